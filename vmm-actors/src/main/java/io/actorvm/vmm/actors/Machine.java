package io.actorvm.vmm.actors;

import io.actorvm.io.buffering.CoalescedRing;
import io.actorvm.kvm.Capability;
import io.actorvm.devices.virtio.blk.DiskImage;
import io.actorvm.devices.virtio.net.TapBackend;
import io.actorvm.kvm.CpuidEntry;
import io.actorvm.kvm.EventFd;
import io.actorvm.kvm.IoEventPoller;
import io.actorvm.kvm.Kvm;
import io.actorvm.kvm.VcpuFd;
import io.actorvm.kvm.VmFd;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.boot.acpi.AcpiTables;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import io.actorvm.vmm.actors.virtio.VirtioSlots;
import io.actorvm.boot.BootLayout;
import io.actorvm.boot.BootMsrs;
import io.actorvm.boot.Bootloader;
import io.actorvm.boot.CpuidTemplate;
import io.actorvm.boot.EntryState;
import io.actorvm.boot.KernelFormatException;
import io.actorvm.boot.MpTable;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The KVM side of one VM: the VM and vCPU handles, guest memory with the kernel loaded, the
 * in-kernel irqchip and PIT, and the coalesced ring. Built in two steps — KVM's part ({@link #shell}),
 * then the guest's (a kernel booted, or a snapshot's state loaded), which a live migration's target
 * takes apart in time ({@link PreparedMachine}) — and closed in one step (after every vCPU thread
 * has ended: vCPU threads and devices reach into this memory).
 */
final class Machine implements AutoCloseable {
    static final int PAGE = 4096;

    final Kvm kvm;
    final VmFd vm;
    final GuestMemory memory;
    final List<VcpuFd> vcpus = new ArrayList<>();
    /** Raw images of the virtio-blk devices, opened before KVM is touched so a bad path changes nothing. */
    final List<DiskImage> disks = new ArrayList<>();
    /** Host tap devices of the virtio-net devices that use one (null for switch ports), in config order. */
    final List<TapBackend> taps = new ArrayList<>();
    /** Guest notifications of every virtio queue arrive here as ioeventfds. */
    IoEventPoller poller;
    /** Eventfds of ioeventfd/irqfd registrations, closed with the VM. */
    final List<EventFd> eventFds = new ArrayList<>();
    /** Shared by every vCPU (KVM keeps one ring per VM); null where KVM offers none. */
    CoalescedRing ring;

    private Machine(Kvm kvm, VmFd vm, GuestMemory memory) {
        this.kvm = kvm;
        this.vm = vm;
        this.memory = memory;
    }

    /** Reads a kernel or initrd file; a one-line error names the file and the problem. */
    static byte[] readFile(String what, java.nio.file.Path file) {
        try {
            if (!Files.isRegularFile(file)) throw new KernelFormatException(what + " file " + file + " does not exist");
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new KernelFormatException("cannot read " + what + " file " + file + ": " + e.getMessage());
        } catch (OutOfMemoryError e) {
            throw new KernelFormatException(what + " file " + file + " is too large");
        }
    }

    static Machine create(VmConfig config) {
        return create(config, null, null);
    }

    /** A machine booting {@code config}'s kernel, or rebuilt from snapshot {@code restoreFrom} of its data directory. */
    static Machine create(VmConfig config, String restoreFrom) {
        if (restoreFrom == null) return create(config);
        SnapshotStore store = SnapshotStore.open(config.dataDir());
        return create(config, store, VmSnapshots.load(store, restoreFrom));
    }

    /**
     * A machine booting {@code config}'s kernel, or — when {@code snapshot} is given — one rebuilt
     * from that snapshot: same layout and devices, memory and KVM state from the snapshot store.
     */
    static Machine create(VmConfig config, SnapshotStore store, VmSnapshots.Loaded snapshot) {
        // Everything about the files is checked before KVM is touched, so a bad file changes nothing.
        byte[] kernel = snapshot != null ? null : readFile("kernel", config.kernel());
        if (kernel != null) Bootloader.check(kernel);
        byte[] initrd = snapshot != null || config.initrd() == null ? null : readFile("initrd", config.initrd());
        AddressMap map = new AddressMap(config.memory());
        List<DiskImage> disks = openDisks(config);
        List<TapBackend> taps;
        try {
            taps = openTaps(config);
        } catch (RuntimeException e) {
            closeAll(disks);
            throw e;
        }

        // A snapshot loaded from a memory file maps it copy-on-write: nothing is read until the
        // guest touches it (on 4 KiB pages: a file mapping cannot be hugetlbfs, and stays lazy).
        String memoryFile = snapshot == null ? "" : snapshot.chain().getFirst().getMemoryFile();
        Machine m;
        try {
            // A live migration's target builds the machine while the pages arrive, and loads the
            // state into it before the move commits: then nothing is left to do here.
            Machine prepared = memoryFile.isEmpty() ? null : PreparedMachine.take(java.nio.file.Path.of(memoryFile), map, config.cpus(),
                    new LoadedState(snapshot.leaf().getSnapshotId(), config.disabledCpuFeatures()));
            m = prepared != null ? prepared
                    : shell(map, memoryFile.isEmpty() ? null : java.nio.file.Path.of(memoryFile), config.hugePages(),
                    config.dataDir() != null, config.cpus());
        } catch (RuntimeException | Error e) {
            closeAll(disks);
            taps.forEach(t -> { if (t != null) t.close(); });
            throw e;
        }
        m.disks.addAll(disks);
        m.taps.addAll(taps);
        try {
            if (snapshot != null) {
                // A machine a migration's target built and loaded ahead holds this snapshot's state already.
                if (m.loaded == null) m.load(store, snapshot, config.disabledCpuFeatures());
                return m;
            }
            GuestMemory memory = m.memory;
            List<CpuidEntry> supported = m.supportedCpuid;
            m.guestCpuid = CpuidTemplate.forVcpu(supported, 0, config.cpus(), config.disabledCpuFeatures());

            List<AcpiTables.MmioDevice> virtio = VirtioSlots.first(config.virtioDeviceCount()).stream()
                    .map(s -> new AcpiTables.MmioDevice(s.base(), VirtioSlots.WINDOW, s.gsi())).toList();
            AcpiTables.Tables acpi = AcpiTables.build(BootLayout.ACPI_TABLES, config.cpus(), virtio);
            for (AcpiTables.Blob blob : acpi.blobs()) memory.write(GuestAddress.of(blob.address()), blob.bytes());
            EntryState entry = Bootloader.boot(kernel, initrd, config.cmdline(), memory, acpi.rsdpAddress());

            CpuidEntry leaf1 = supported.stream().filter(e -> e.function() == 1).findFirst()
                    .orElse(new CpuidEntry(1, 0, 0, 0, 0, 0, 0));
            memory.write(GuestAddress.of(BootLayout.MP_TABLE), MpTable.build(BootLayout.MP_TABLE, config.cpus(), leaf1.eax(), leaf1.edx()));
            for (int id = 0; id < config.cpus(); id++) {
                VcpuFd vcpu = m.vcpus.get(id);
                vcpu.setCpuid(CpuidTemplate.forVcpu(supported, id, config.cpus(), config.disabledCpuFeatures()));
                vcpu.setMsrs(BootMsrs.initial());
                vcpu.setFpuDefaults();
                if (id == 0) {
                    vcpu.setSregs(entry.sregs().apply(vcpu.getSregs()));
                    vcpu.setRegs(entry.regs());
                }
                // Application processors keep KVM's reset state: with the in-kernel LAPIC they wait
                // for INIT/SIPI from the guest.
            }
            m.finishSetup();
            return m;
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
    }

    /** Which snapshot's state a machine holds, and with which CPU features hidden from the guest. */
    record LoadedState(String snapshotId, java.util.Set<io.actorvm.boot.CpuFeature> disabledCpuFeatures) {}

    /** What {@link #load} put in this machine; null while it holds no guest state. */
    LoadedState loaded;

    /**
     * Loads {@code snapshot}'s guest into this shell: checks the CPU features its guest could see,
     * then the memory pages above a mapped memory file, the VM-wide state and each vCPU's. Runs no
     * guest code, so a migration's target does it before the move commits ({@link PreparedMachine}).
     */
    void load(SnapshotStore store, VmSnapshots.Loaded snapshot, java.util.Set<io.actorvm.boot.CpuFeature> disabledCpuFeatures) {
        int cpus = vcpus.size();
        guestCpuid = CpuidTemplate.forVcpu(supportedCpuid, 0, cpus, disabledCpuFeatures);
        VmSnapshots.checkCpuFeatures(store, snapshot, guestCpuid);
        restoredDeviceStates = VmSnapshots.deviceStates(store, snapshot);
        VmSnapshots.restoreMemory(store, snapshot, memory);
        vm.restoreState(VmSnapshots.vmState(store, snapshot));
        for (int id = 0; id < cpus; id++) {
            vcpus.get(id).restoreState(VmSnapshots.vcpuState(store, snapshot, id,
                    CpuidTemplate.forVcpu(supportedCpuid, id, cpus, disabledCpuFeatures)));
        }
        finishSetup();
        loaded = new LoadedState(snapshot.leaf().getSnapshotId(), java.util.Set.copyOf(disabledCpuFeatures));
    }

    /**
     * KVM's part of a machine, before anything of the guest is in it: the VM with its TSS, identity
     * map, in-kernel irqchip and PIT; guest memory (fresh, or {@code memoryFile} mapped copy-on-write)
     * in its slots, dirty-logged when {@code logDirty}; and {@code cpus} vCPUs in KVM's reset state
     * (created after the irqchip, as KVM requires). Nothing here depends on a snapshot's content, so
     * a migration's target builds it while the memory file is still being written ({@link PreparedMachine}).
     */
    static Machine shell(AddressMap map, java.nio.file.Path memoryFile, io.actorvm.mmu.HugePages hugePages, boolean logDirty, int cpus) {
        Kvm kvm = Kvm.open();
        Machine m = null;
        try {
            for (Capability needed : List.of(Capability.IRQCHIP, Capability.USER_MEMORY, Capability.SET_TSS_ADDR,
                    Capability.PIT2, Capability.IMMEDIATE_EXIT)) {
                if (kvm.checkExtension(needed) <= 0) throw new IllegalStateException("this host's KVM lacks " + needed);
            }
            int maxVcpus = Math.max(kvm.checkExtension(Capability.MAX_VCPUS), kvm.checkExtension(Capability.NR_VCPUS));
            if (cpus > maxVcpus) throw new IllegalArgumentException("this host's KVM allows at most " + maxVcpus + " vCPUs");
            VmFd vm = kvm.createVm();
            GuestMemory memory;
            try {
                memory = memoryFile == null ? GuestMemory.allocate(map, hugePages) : GuestMemory.mapFile(map, memoryFile);
            } catch (RuntimeException | Error e) {
                vm.close();
                throw e;
            }
            m = new Machine(kvm, vm, memory);
            vm.setTssAddress(AddressMap.KVM_TSS_ADDRESS);
            vm.setIdentityMapAddress(AddressMap.KVM_IDENTITY_MAP_ADDRESS);
            vm.createIrqchip();
            vm.createPit2();
            int slot = 0;
            // With a data directory the VM can be snapshotted: KVM logs dirty pages for incremental snapshots.
            int slotFlags = logDirty ? VmFd.MEM_LOG_DIRTY_PAGES : 0;
            for (GuestMemory.Region r : memory.regions()) {
                vm.setUserMemoryRegion(slot++, slotFlags, r.guestAddress().value(), r.size(), r.host().address());
            }
            m.supportedCpuid = kvm.supportedCpuid();
            for (int id = 0; id < cpus; id++) m.vcpus.add(vm.createVcpu(id));
            return m;
        } catch (RuntimeException | Error e) {
            if (m != null) m.close();
            else kvm.close();
            throw e;
        }
    }

    private static List<DiskImage> openDisks(VmConfig config) {
        List<DiskImage> out = new ArrayList<>();
        try {
            for (DiskConfig d : config.disks()) out.add(DiskImage.open(d.path(), d.readOnly()));
            return out;
        } catch (IOException e) {
            closeAll(out);
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    private static List<TapBackend> openTaps(VmConfig config) {
        List<TapBackend> out = new ArrayList<>();
        try {
            for (NetConfig n : config.nets()) out.add(n.kind() == NetConfig.Kind.TAP ? TapBackend.open(n.name()) : null);
            return out;
        } catch (IOException e) {
            out.forEach(t -> { if (t != null) t.close(); });
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    private static void closeAll(List<DiskImage> disks) {
        for (DiskImage d : disks) {
            try {
                d.close();
            } catch (IOException ignored) {
                // closing a read-only or already failed channel: nothing to recover
            }
        }
    }

    /** A new eventfd that lives as long as the VM. */
    EventFd eventFd() {
        EventFd e = new EventFd();
        eventFds.add(e);
        return e;
    }

    /** After the vCPUs exist: the coalesced ring, and which MSRs a snapshot saves. */
    private void finishSetup() {
        int ringPage = kvm.checkExtension(Capability.COALESCED_MMIO);
        if (ringPage > 0) ring = new CoalescedRing(vcpus.getFirst().mapping().asSlice((long) ringPage * PAGE, PAGE));
        List<Integer> candidates = new ArrayList<>(kvm.getMsrIndexList());
        // Not in KVM's index list but part of the vCPU state: TSC_AUX and the writable MTRRs (MTRRcap, 0xFE, is read-only).
        for (int msr : new int[] {0xC0000103, 0x2FF, 0x250, 0x258, 0x259}) if (!candidates.contains(msr)) candidates.add(msr);
        for (int msr = 0x200; msr <= 0x20F; msr++) if (!candidates.contains(msr)) candidates.add(msr);
        for (int msr = 0x268; msr <= 0x26F; msr++) if (!candidates.contains(msr)) candidates.add(msr);
        snapshotMsrs = vcpus.getFirst().readableMsrs(candidates);
    }

    /** Device states of the snapshot this machine was rebuilt from, encoded, by device name (checked when loaded). */
    java.util.Map<String, byte[]> restoredDeviceStates = java.util.Map.of();

    /** The CPUID this host's KVM supports, from which each vCPU's is made. */
    List<CpuidEntry> supportedCpuid = List.of();

    /** The CPUID vCPU 0 sees: recorded with snapshots, checked on restore. */
    List<CpuidEntry> guestCpuid = List.of();

    /** MSRs captured in snapshots (the ones this host's KVM can read back). */
    List<Integer> snapshotMsrs = List.of();

    /** Pages of region {@code index} written since the last call, by the guest (KVM's dirty log) or the VMM; clears both. */
    java.util.function.LongPredicate dirtyPages(int index) {
        long[] dirty = takeDirty(index);
        return page -> page >= 0 && bit(dirty, page);
    }

    /**
     * As {@link #dirtyPages}, as a bitmap: bit {@code i % 64} of word {@code i / 64} for page
     * {@code i} of region {@code index}. Safe while the vCPUs run (KVM reads and clears its log
     * atomically per word; a page written meanwhile shows up in this call or the next).
     */
    long[] takeDirty(int index) {
        GuestMemory.Region r = memory.regions().get(index);
        long[] guest = vm.getDirtyLog(index, r.size() / PAGE);
        long[] vmm = memory.takeWritten(index); // device DMA, which KVM's log does not see
        long[] out = new long[Math.max(guest.length, vmm.length)];
        for (int i = 0; i < out.length; i++) out[i] = (i < guest.length ? guest[i] : 0) | (i < vmm.length ? vmm[i] : 0);
        return out;
    }

    private static boolean bit(long[] bitmap, long page) {
        return page / 64 < bitmap.length && (bitmap[(int) (page / 64)] & (1L << (page % 64))) != 0;
    }

    /** True when KVM can coalesce port writes into the ring. */
    boolean canCoalescePio() {
        return ring != null && kvm.checkExtension(Capability.COALESCED_PIO) > 0;
    }

    @Override
    public void close() {
        if (poller != null) poller.close();
        eventFds.forEach(EventFd::close); // closing an eventfd also drops its ioeventfd/irqfd registration
        closeAll(disks);
        taps.forEach(t -> { if (t != null) t.close(); });
        for (VcpuFd v : vcpus) v.close();
        vm.close();
        memory.close();
        kvm.close();
    }
}
