package io.actorvm.control.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/** What kind of host this is, for choosing the demo guest and for test skips. */
public final class HostCheck {
    private static final Pattern HW_VIRT = Pattern.compile("^flags\\s*:.*\\b(vmx|svm)\\b", Pattern.MULTILINE);

    private HostCheck() {}

    /** True when the CPU advertises VT-x or AMD-V, i.e. KVM runs guest code natively. */
    public static boolean hasHardwareVirtualization() {
        try {
            return HW_VIRT.matcher(Files.readString(Path.of("/proc/cpuinfo"))).find();
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Why {@code /dev/kvm} cannot be used (missing, no permission, a wrong API version), or null
     * when it can: checked once when a command that will run VMs starts, not at its first VM.
     */
    static String kvmProblem() {
        try (io.actorvm.kvm.Kvm kvm = io.actorvm.kvm.Kvm.open()) {
            return null;
        } catch (io.actorvm.kvm.KvmUnavailableException e) {
            return e.getMessage();
        }
    }

    /** The nested, emulating kvm_pvm module of our development hosts. */
    public static boolean isEmulatingKvm() {
        return Files.isDirectory(Path.of("/sys/module/kvm_pvm"));
    }
}
