package io.actorvm.vmm.actors;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What a VM is made of: plain data (paths, sizes, flags), nothing live. What the guest writes to
 * its console is a stream the VM publishes ({@link Vm.AttachConsole}), not part of the config.
 *
 * @param name      a name for logs and, later, the journal
 * @param kernel    an ELF kernel with a PVH entry note
 * @param cmdline   the guest kernel's command line
 * @param memory    guest RAM in bytes (multiple of 4 KiB, at least 2 MiB)
 * @param cpus      vCPUs; vCPU 0 boots, the others wait for INIT/SIPI
 * @param initrd    an initial RAM disk, or null
 * @param disabledCpuFeatures CPUID features hidden from the guest
 * @param disks     raw images, one virtio-blk device each
 * @param rng       whether the guest gets a virtio-rng device
 * @param nets      network devices, one virtio-net device each
 * @param dataDir   where snapshots (and, with the CLI, the journal) live; null: no snapshots
 */
public record VmConfig(String name, Path kernel, String cmdline, long memory, int cpus, Path initrd,
                       java.util.Set<io.actorvm.boot.CpuFeature> disabledCpuFeatures, java.util.List<DiskConfig> disks,
                       boolean rng, java.util.List<NetConfig> nets, Path dataDir, io.actorvm.mmu.HugePages hugePages) {
    /** As many as the MP table describes (it must fit in the last KiB of base memory). */
    public static final int MAX_CPUS = io.actorvm.boot.MpTable.MAX_CPUS;

    public VmConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cmdline, "cmdline");
        if (cpus < 1 || cpus > MAX_CPUS) throw new IllegalArgumentException("cpus must be between 1 and " + MAX_CPUS + ", not " + cpus);
        new io.actorvm.mmu.AddressMap(memory); // validates the size
        disabledCpuFeatures = java.util.Set.copyOf(disabledCpuFeatures);
        disks = java.util.List.copyOf(disks);
        nets = java.util.List.copyOf(nets);
        Objects.requireNonNull(hugePages, "hugePages");
        if (hugePages == io.actorvm.mmu.HugePages.HUGETLB_2M && memory % io.actorvm.mmu.HugePages.TWO_MIB != 0) {
            throw new IllegalArgumentException("memory must be a multiple of 2 MiB for 2M huge pages, not " + memory + " bytes");
        }
        if (virtioDeviceCount(disks, rng) + nets.size() > io.actorvm.vmm.actors.virtio.VirtioSlots.MAX_DEVICES) {
            throw new IllegalArgumentException("at most " + io.actorvm.vmm.actors.virtio.VirtioSlots.MAX_DEVICES + " virtio devices");
        }
    }

    private static int virtioDeviceCount(java.util.List<DiskConfig> disks, boolean rng) {
        return disks.size() + (rng ? 1 : 0);
    }

    /** virtio devices in slot order: the disks, the network devices, then the entropy device. */
    public int virtioDeviceCount() {
        return virtioDeviceCount(disks, rng) + nets.size();
    }

    /** A VM on 4 KiB pages. */
    public VmConfig(String name, Path kernel, String cmdline, long memory, int cpus, Path initrd,
                    java.util.Set<io.actorvm.boot.CpuFeature> disabledCpuFeatures, java.util.List<DiskConfig> disks,
                    boolean rng, java.util.List<NetConfig> nets, Path dataDir) {
        this(name, kernel, cmdline, memory, cpus, initrd, disabledCpuFeatures, disks, rng, nets, dataDir, io.actorvm.mmu.HugePages.NONE);
    }

    /** A VM without an initrd. */
    public VmConfig(String name, Path kernel, String cmdline, long memory, int cpus) {
        this(name, kernel, cmdline, memory, cpus, null, java.util.Set.of(), java.util.List.of(), false, java.util.List.of(), null);
    }

    public VmConfig withDisabledCpuFeatures(java.util.Set<io.actorvm.boot.CpuFeature> value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, initrd, value, disks, rng, nets, dataDir, hugePages);
    }

    public VmConfig withDisks(java.util.List<DiskConfig> value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, initrd, disabledCpuFeatures, value, rng, nets, dataDir, hugePages);
    }

    public VmConfig withRng(boolean value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, initrd, disabledCpuFeatures, disks, value, nets, dataDir, hugePages);
    }

    public VmConfig withNets(java.util.List<NetConfig> value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, initrd, disabledCpuFeatures, disks, rng, value, dataDir, hugePages);
    }

    public VmConfig withDataDir(Path value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, initrd, disabledCpuFeatures, disks, rng, nets, value, hugePages);
    }

    public VmConfig withInitrd(Path value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, value, disabledCpuFeatures, disks, rng, nets, dataDir, hugePages);
    }

    public VmConfig withCmdline(String value) {
        return new VmConfig(name, kernel, value, memory, cpus, initrd, disabledCpuFeatures, disks, rng, nets, dataDir, hugePages);
    }

    public VmConfig withCpus(int value) {
        return new VmConfig(name, kernel, cmdline, memory, value, initrd, disabledCpuFeatures, disks, rng, nets, dataDir, hugePages);
    }

    public VmConfig withName(String value) {
        return new VmConfig(value, kernel, cmdline, memory, cpus, initrd, disabledCpuFeatures, disks, rng, nets, dataDir, hugePages);
    }

    public VmConfig withHugePages(io.actorvm.mmu.HugePages value) {
        return new VmConfig(name, kernel, cmdline, memory, cpus, initrd, disabledCpuFeatures, disks, rng, nets, dataDir, value);
    }
}
