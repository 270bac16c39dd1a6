package io.actorvm.control.cli;

import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.images.GuestBuildException;
import io.actorvm.images.GuestImage;
import io.actorvm.images.KvmHost;
import picocli.CommandLine.Command;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code actorvm demo}: the main job in one command. It assembles a Debian guest (cached after the
 * first time) and boots Linux to run one command that shows what the guest sees, then powers off.
 * Where this machine's KVM runs guest code natively (VT-x or AMD-V) that happens here; elsewhere
 * (no /dev/kvm, or a KVM without hardware virtualization) the demo runs itself again inside the
 * emulated KVM host ({@code actorvm kvm-host}), and says so.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Boot a Debian Linux guest, run a command in it and power it off (inside the emulated KVM host where "
                + "this machine has no hardware virtualization).")
final class DemoCommand implements Callable<Integer> {
    /** What the guest runs: the kernel, and the CPUs, memory and virtio devices Linux found. */
    static final String LINUX_COMMAND = "-- /bin/busybox sh -c \"uname -sr; echo cpus: $(nproc);"
            + " grep MemTotal /proc/meminfo; echo virtio: $(ls /sys/bus/virtio/devices | wc -l) devices;"
            + " head -c 16 /dev/hwrng | od -An -tx1; echo hello from Linux on actorvm\"";

    @Override
    public Integer call() throws Exception {
        GuestImage guest;
        try (TerminalProgress progress = TerminalProgress.open("guest build", "actorvm demo: ")) {
            guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), progress.log(), progress);
        } catch (GuestBuildException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        if (KvmHost.nativeKvm() && HostCheck.hasHardwareVirtualization()) return linux(guest);

        String why = KvmHost.nativeKvm() ? "this machine's KVM has no hardware virtualization (no vmx/svm in /proc/cpuinfo)"
                : "this machine has no usable /dev/kvm";
        System.err.println("actorvm demo: " + why + ": running the demo inside the emulated KVM host instead "
                + "(QEMU TCG with AMD SVM; about 1-2 minutes, most of it the JVM starting under emulation).");
        Path home = Path.of(System.getProperty("actorvm.home", ".")).toAbsolutePath().normalize();
        List<String> command = List.of("env", "ACTORVM_NO_BUILD=1", home.resolve("actorvm").toString(), "demo");
        try (TerminalProgress progress = TerminalProgress.open("KVM host image", "actorvm demo: kvm-host: ")) {
            return KvmHost.runEmulated(command, KvmHostCommand.defaults(home), progress.log(), progress);
        }
    }

    private int linux(GuestImage guest) throws InterruptedException {
        System.err.println("actorvm demo: KVM with hardware virtualization here: booting the Debian Linux guest "
                + guest.manifest().kernel().name() + " " + guest.manifest().kernel().version());
        VmConfig config = new VmConfig("demo", guest.vmlinux(), GuestImage.CMDLINE + " quiet " + LINUX_COMMAND, 256L << 20, 2)
                .withInitrd(guest.initramfs()).withRng(true);
        long t0 = System.nanoTime();
        int status = VmRunner.run(config, false);
        System.err.printf("actorvm demo: Linux guest ended with status %d after %.1f s.%n", status, (System.nanoTime() - t0) / 1e9);
        return status;
    }
}
