package io.actorvm.kvm;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Skips a test where this machine has no usable /dev/kvm — or fails it, where ACTORVM_REQUIRE_KVM
 * is set (CI sets it for the run inside the emulated KVM host, where a skip would hide a gap).
 */
final class KvmAvailable {
    private static final Path DEV = Path.of("/dev/kvm");

    private KvmAvailable() {}

    static void assume() {
        boolean usable = Files.isReadable(DEV) && Files.isWritable(DEV);
        String reason = "no usable /dev/kvm: " + (Files.exists(DEV) ? "no read/write permission" : "device absent")
                + " (run KVM tests with ./actorvm kvm-host -- ...)";
        String required = System.getenv("ACTORVM_REQUIRE_KVM");
        if (!usable && required != null && !required.equals("0")) throw new AssertionError(reason + " (ACTORVM_REQUIRE_KVM is set: not skipped)");
        Assumptions.assumeTrue(usable, reason);
    }
}
