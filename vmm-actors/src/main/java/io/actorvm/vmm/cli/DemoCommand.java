package io.actorvm.vmm.cli;

import io.actorvm.vmm.VmConfig;
import io.actorvm.vmm.image.GuestBuildException;
import io.actorvm.vmm.image.GuestImage;
import picocli.CommandLine.Command;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code actorvm demo}: the main job in one command. On a host with hardware virtualization it
 * assembles a Debian guest (cached after the first time) and boots Linux to run one command and
 * power off. On hosts whose KVM emulates guest code, where Linux cannot finish booting, it boots
 * the {@code hello} test guest instead, and says which and why.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Boot a demo guest and say which one and why.")
final class DemoCommand implements Callable<Integer> {
    static final String LINUX_COMMAND = "-- /bin/busybox sh -c \"uname -sr; echo hello from Linux on actorvm with $(nproc) CPUs\"";

    @Override
    public Integer call() throws Exception {
        if (HostCheck.hasHardwareVirtualization()) return linux();
        Path home = Path.of(System.getProperty("actorvm.home", "."));
        Path hello = home.resolve("tests/guests/build/hello.elf");
        System.err.println("actorvm demo: booting the 'hello' test guest (" + hello + "): this host has no hardware "
                + "virtualization (its KVM emulates guest code" + (HostCheck.isEmulatingKvm() ? ", kvm_pvm" : "")
                + "), too slow for Linux to finish booting.");
        if (!Files.isRegularFile(hello)) {
            System.err.println("actorvm: " + hello + " is missing; build it with: make -C tests/guests");
            return Main.USAGE_ERROR;
        }
        int status = VmRunner.run(new VmConfig("demo", hello, "", 16L << 20, 1, new Console()), false);
        System.err.println("actorvm demo: guest exited with status " + status + ".");
        return status;
    }

    private int linux() throws InterruptedException {
        System.err.println("actorvm demo: this host has hardware virtualization: booting a Debian Linux guest "
                + "(assembled from Debian packages the first time, then cached).");
        GuestImage guest;
        try {
            guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.err.println("actorvm demo: " + line));
        } catch (GuestBuildException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        VmConfig config = new VmConfig("demo", guest.vmlinux(), GuestImage.CMDLINE + " quiet " + LINUX_COMMAND, 256L << 20, 2,
                new Console()).withInitrd(guest.initramfs()).withRng(true);
        int status = VmRunner.run(config, false);
        System.err.println("actorvm demo: Linux guest ended with status " + status + ".");
        return status;
    }
}
