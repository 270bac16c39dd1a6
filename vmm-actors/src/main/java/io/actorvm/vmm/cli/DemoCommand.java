package io.actorvm.vmm.cli;

import io.actorvm.vmm.VmConfig;
import picocli.CommandLine.Command;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code actorvm demo}: the main job in one command. Boots Linux on hosts with hardware
 * virtualization once Linux boot support lands; until then, and on hosts whose KVM emulates guest
 * code, it boots the {@code hello} test guest and says so.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Boot a demo guest and say which one and why.")
final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        Path home = Path.of(System.getProperty("actorvm.home", "."));
        Path hello = home.resolve("tests/guests/build/hello.elf");
        String why = HostCheck.hasHardwareVirtualization()
                ? "this host has hardware virtualization, but Linux guest support has not landed yet"
                : "this host has no hardware virtualization (its KVM emulates guest code"
                        + (HostCheck.isEmulatingKvm() ? ", kvm_pvm" : "") + "), too slow for a Linux guest";
        System.err.println("actorvm demo: booting the 'hello' test guest (" + hello + "): " + why + ".");
        if (!Files.isRegularFile(hello)) {
            System.err.println("actorvm: " + hello + " is missing; build it with: make -C tests/guests");
            return Main.USAGE_ERROR;
        }
        int status = VmRunner.run(new VmConfig("demo", hello, "", 16L << 20, 1, new Console()), false);
        System.err.println("actorvm demo: guest exited with status " + status + ".");
        return status;
    }
}
