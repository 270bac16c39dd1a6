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

    /** The nested, emulating kvm_pvm module of our development hosts. */
    public static boolean isEmulatingKvm() {
        return Files.isDirectory(Path.of("/sys/module/kvm_pvm"));
    }
}
