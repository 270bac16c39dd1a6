package io.actorvm.vmm;

import io.actorvm.devices.serial.SerialOutput;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What a VM is made of. {@code console} receives every byte the guest writes to COM1.
 *
 * @param name      a name for logs and, later, the journal
 * @param kernel    an ELF kernel with a PVH entry note
 * @param cmdline   the guest kernel's command line
 * @param memory    guest RAM in bytes (multiple of 4 KiB, at least 2 MiB)
 * @param cpus      vCPUs; vCPU 0 boots, the others wait for INIT/SIPI
 * @param initrd    an initial RAM disk, or null
 * @param disabledCpuFeatures CPUID features hidden from the guest
 */
public record VmConfig(String name, Path kernel, String cmdline, long memory, int cpus, SerialOutput console, Path initrd,
                       java.util.Set<io.actorvm.vmm.boot.CpuFeature> disabledCpuFeatures) {
    /** As many as the MP table describes (it must fit in the last KiB of base memory). */
    public static final int MAX_CPUS = io.actorvm.vmm.boot.MpTable.MAX_CPUS;

    public VmConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cmdline, "cmdline");
        Objects.requireNonNull(console, "console");
        if (cpus < 1 || cpus > MAX_CPUS) throw new IllegalArgumentException("cpus must be between 1 and " + MAX_CPUS + ", not " + cpus);
        new io.actorvm.mmu.AddressMap(memory); // validates the size
        disabledCpuFeatures = java.util.Set.copyOf(disabledCpuFeatures);
    }

    /** A VM without an initrd. */
    public VmConfig(String name, Path kernel, String cmdline, long memory, int cpus, SerialOutput console) {
        this(name, kernel, cmdline, memory, cpus, console, null, java.util.Set.of());
    }

    public VmConfig withDisabledCpuFeatures(java.util.Set<io.actorvm.vmm.boot.CpuFeature> value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, console, initrd, value);
    }

    public VmConfig withInitrd(Path value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, console, value, disabledCpuFeatures);
    }

    public static VmConfig of(Path kernel, long memory, SerialOutput console) {
        return new VmConfig("vm", kernel, "", memory, 1, console);
    }

    public VmConfig withCmdline(String value) {
        return new VmConfig(name, kernel, value, memory, cpus, console, initrd, disabledCpuFeatures);
    }

    public VmConfig withCpus(int value) {
        return new VmConfig(name, kernel, cmdline, memory, value, console, initrd, disabledCpuFeatures);
    }

    public VmConfig withName(String value) {
        return new VmConfig(value, kernel, cmdline, memory, cpus, console, initrd, disabledCpuFeatures);
    }
}
