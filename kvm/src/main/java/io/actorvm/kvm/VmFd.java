package io.actorvm.kvm;

import io.actorvm.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A VM handle: memory slots, the in-kernel irqchip and PIT, interrupts, ioeventfd, coalesced I/O,
 * and the VM-wide state a snapshot needs (irqchips, PIT, kvmclock, dirty-page log).
 */
public final class VmFd implements AutoCloseable {
    /** KVM_MEM_LOG_DIRTY_PAGES. */
    public static final int MEM_LOG_DIRTY_PAGES = 1;
    /** KVM_MEM_READONLY. */
    public static final int MEM_READONLY = 2;
    /** KVM_IOEVENTFD_FLAG_DATAMATCH / _PIO / _DEASSIGN. */
    public static final int IOEVENTFD_DATAMATCH = 1, IOEVENTFD_PIO = 2, IOEVENTFD_DEASSIGN = 4;
    /** KVM_IRQCHIP_PIC_MASTER / PIC_SLAVE / IOAPIC: the chip ids of KVM_GET/SET_IRQCHIP. */
    public static final int IRQCHIP_PIC_MASTER = 0, IRQCHIP_PIC_SLAVE = 1, IRQCHIP_IOAPIC = 2;
    /** KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE / KVM_DIRTY_LOG_INITIALLY_SET: options of MANUAL_DIRTY_LOG_PROTECT2. */
    public static final long DIRTY_LOG_MANUAL_PROTECT_ENABLE = 1, DIRTY_LOG_INITIALLY_SET = 2;

    private final int fd;
    private final int vcpuMmapSize;
    private volatile boolean irqchipCreated, pitCreated;
    private VcpuFd.Features vcpuFeatures;

    VmFd(int fd, int vcpuMmapSize) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    public int fd() {
        return fd;
    }

    /** KVM_CHECK_EXTENSION asked of this VM (some answers are per VM). */
    public int checkExtension(Capability cap) {
        return Libc.ioctl(fd, Ioctls.KVM_CHECK_EXTENSION, cap.number(), "KVM_CHECK_EXTENSION(" + cap + ")");
    }

    /** KVM_SET_USER_MEMORY_REGION: maps {@code size} bytes of host memory at {@code guestPhys}. */
    public void setUserMemoryRegion(int slot, int flags, long guestPhys, long size, long hostAddress) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(Structs.USERSPACE_MEMORY_REGION);
            r.set(JAVA_INT, 0, slot);
            r.set(JAVA_INT, 4, flags);
            r.set(JAVA_LONG, 8, guestPhys);
            r.set(JAVA_LONG, 16, size);
            r.set(JAVA_LONG, 24, hostAddress);
            Libc.ioctl(fd, Ioctls.KVM_SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION(slot " + slot + ")");
        }
    }

    /** KVM_SET_TSS_ADDR: three pages KVM needs on Intel for real-mode emulation; must not overlap RAM. */
    public void setTssAddress(long address) {
        Libc.ioctl(fd, Ioctls.KVM_SET_TSS_ADDR, address, "KVM_SET_TSS_ADDR");
    }

    /** KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map on Intel. */
    public void setIdentityMapAddress(long address) {
        try (Arena arena = Arena.ofConfined()) {
            Libc.ioctl(fd, Ioctls.KVM_SET_IDENTITY_MAP_ADDR, arena.allocateFrom(JAVA_LONG, address),
                    "KVM_SET_IDENTITY_MAP_ADDR");
        }
    }

    /** KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC and per-vCPU LAPICs; call before creating vCPUs. */
    public void createIrqchip() {
        Libc.ioctl(fd, Ioctls.KVM_CREATE_IRQCHIP, 0L, "KVM_CREATE_IRQCHIP");
        irqchipCreated = true;
    }

    /** kvm_pit_config.flags: KVM also emulates port 0x61 (speaker gate and channel 2 output). */
    public static final int PIT_SPEAKER_DUMMY = 1;

    /**
     * KVM_CREATE_PIT2: the in-kernel i8254 timer, with the dummy speaker port so that guests can
     * calibrate delays with channel 2 through port 0x61, as they do on a PC.
     */
    public void createPit2() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment config = arena.allocate(Structs.PIT_CONFIG);
            config.set(JAVA_INT, 0, PIT_SPEAKER_DUMMY);
            Libc.ioctl(fd, Ioctls.KVM_CREATE_PIT2, config, "KVM_CREATE_PIT2");
        }
        pitCreated = true;
    }

    /** KVM_IRQ_LINE: drives a GSI of the in-kernel irqchip high or low. Safe from any thread. */
    public void irqLine(int gsi, boolean level) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.IRQ_LEVEL);
            s.set(JAVA_INT, 0, gsi);
            s.set(JAVA_INT, 4, level ? 1 : 0);
            Libc.ioctl(fd, Ioctls.KVM_IRQ_LINE, s, "KVM_IRQ_LINE(" + gsi + ")");
        }
    }

    /**
     * KVM_REGISTER_COALESCED_MMIO: writes to the zone are appended to the ring in the vCPU
     * mapping instead of exiting. {@code pio} selects the port space (needs COALESCED_PIO).
     */
    public void registerCoalesced(long address, int size, boolean pio) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment z = arena.allocate(Structs.COALESCED_MMIO_ZONE);
            z.set(JAVA_LONG, 0, address);
            z.set(JAVA_INT, 8, size);
            z.set(JAVA_INT, 12, pio ? 1 : 0);
            Libc.ioctl(fd, Ioctls.KVM_REGISTER_COALESCED_MMIO, z, "KVM_REGISTER_COALESCED_MMIO");
        }
    }

    /** KVM_IOEVENTFD: a guest write to {@code address} signals {@code eventFd} without leaving the kernel. */
    public void ioeventfd(int eventFd, long address, int length, boolean pio, Long dataMatch) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.IOEVENTFD);
            int flags = (pio ? IOEVENTFD_PIO : 0) | (dataMatch != null ? IOEVENTFD_DATAMATCH : 0);
            s.set(JAVA_LONG, 0, dataMatch != null ? dataMatch : 0);
            s.set(JAVA_LONG, 8, address);
            s.set(JAVA_INT, 16, length);
            s.set(JAVA_INT, 20, eventFd);
            s.set(JAVA_INT, 24, flags);
            Libc.ioctl(fd, Ioctls.KVM_IOEVENTFD, s, "KVM_IOEVENTFD");
        }
    }

    /** KVM_IRQFD: signalling {@code eventFd} raises {@code gsi}. */
    public void irqfd(int eventFd, int gsi) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.IRQFD);
            s.set(JAVA_INT, 0, eventFd);
            s.set(JAVA_INT, 4, gsi);
            Libc.ioctl(fd, Ioctls.KVM_IRQFD, s, "KVM_IRQFD");
        }
    }

    /** KVM_CREATE_VCPU and the mmap of its kvm_run page. */
    public VcpuFd createVcpu(int id) {
        int vcpuFd = Libc.ioctl(fd, Ioctls.KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU(" + id + ")");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment run = Libc.mmapShared(vcpuFd, vcpuMmapSize, arena, "mmap(kvm_run of vCPU " + id + ")");
            return new VcpuFd(id, vcpuFd, arena, run, vcpuFeatures());
        } catch (RuntimeException e) {
            arena.close();
            Libc.close(vcpuFd);
            throw e;
        }
    }

    private synchronized VcpuFd.Features vcpuFeatures() {
        if (vcpuFeatures == null) {
            boolean xsave = checkExtension(Capability.XSAVE) > 0;
            int xsave2 = checkExtension(Capability.XSAVE2);
            int xsaveSize = xsave2 > 0 ? Math.max(xsave2, (int) Structs.XSAVE.byteSize())
                    : xsave ? (int) Structs.XSAVE.byteSize() : 0;
            vcpuFeatures = new VcpuFd.Features(xsaveSize, xsave2 > 0, checkExtension(Capability.XCRS) > 0,
                    checkExtension(Capability.VCPU_EVENTS) > 0, checkExtension(Capability.DEBUGREGS) > 0,
                    checkExtension(Capability.GET_TSC_KHZ) > 0, checkExtension(Capability.TSC_CONTROL) > 0);
        }
        return vcpuFeatures;
    }

    /** KVM_ENABLE_CAP on the VM (KVM_CAP_ENABLE_CAP_VM), with up to four arguments. */
    public void enableCap(Capability cap, long... args) {
        if (args.length > 4) throw new IllegalArgumentException("KVM_ENABLE_CAP takes at most 4 arguments");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.ENABLE_CAP);
            s.set(JAVA_INT, 0, cap.number());
            for (int i = 0; i < args.length; i++) s.set(JAVA_LONG, 8 + 8L * i, args[i]);
            Libc.ioctl(fd, Ioctls.KVM_ENABLE_CAP, s, "KVM_ENABLE_CAP(" + cap + ")");
        }
    }

    // ---- In-kernel device state ----

    /**
     * KVM_GET_IRQCHIP: the whole 520-byte {@code struct kvm_irqchip} of one chip ({@link #IRQCHIP_PIC_MASTER},
     * {@link #IRQCHIP_PIC_SLAVE}, {@link #IRQCHIP_IOAPIC}): chip_id at 0, the chip's state from offset 8
     * ({@link Structs#PIC_STATE} or {@link Structs#IOAPIC_STATE}).
     */
    public byte[] getIrqchip(int chipId) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.IRQCHIP);
            s.set(JAVA_INT, 0, chipId);
            Libc.ioctl(fd, Ioctls.KVM_GET_IRQCHIP, s, "KVM_GET_IRQCHIP(" + chipId + ")");
            return s.toArray(JAVA_BYTE);
        }
    }

    /**
     * KVM_SET_IRQCHIP from a {@code struct kvm_irqchip} image as {@link #getIrqchip} returns it;
     * its chip_id must be {@code chipId}. Restoring the IOAPIC re-delivers the interrupts pending in
     * its IRR.
     */
    public void setIrqchip(int chipId, byte[] state) {
        if (state.length != Structs.IRQCHIP.byteSize()) {
            throw new IllegalArgumentException("kvm_irqchip is " + Structs.IRQCHIP.byteSize() + " bytes, got " + state.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.IRQCHIP);
            MemorySegment.copy(state, 0, s, JAVA_BYTE, 0, state.length);
            if (s.get(JAVA_INT, 0) != chipId) {
                throw new IllegalArgumentException("image is of chip " + s.get(JAVA_INT, 0) + ", not " + chipId);
            }
            Libc.ioctl(fd, Ioctls.KVM_SET_IRQCHIP, s, "KVM_SET_IRQCHIP(" + chipId + ")");
        }
    }

    /** KVM_GET_PIT2: the in-kernel i8254, 112 bytes ({@link Structs#PIT_STATE2}). */
    public byte[] getPit2() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.PIT_STATE2);
            Libc.ioctl(fd, Ioctls.KVM_GET_PIT2, s, "KVM_GET_PIT2");
            return s.toArray(JAVA_BYTE);
        }
    }

    /**
     * KVM_SET_PIT2. Every channel is reloaded from its count: {@code count_load_time} becomes the
     * host's current time, whatever the image says.
     */
    public void setPit2(byte[] state) {
        if (state.length != Structs.PIT_STATE2.byteSize()) {
            throw new IllegalArgumentException("kvm_pit_state2 is " + Structs.PIT_STATE2.byteSize() + " bytes, got " + state.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.PIT_STATE2);
            MemorySegment.copy(state, 0, s, JAVA_BYTE, 0, state.length);
            Libc.ioctl(fd, Ioctls.KVM_SET_PIT2, s, "KVM_SET_PIT2");
        }
    }

    /** KVM_GET_CLOCK (KVM_CAP_ADJUST_CLOCK): kvmclock as the guest sees it now. */
    public ClockData getClock() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.CLOCK_DATA);
            Libc.ioctl(fd, Ioctls.KVM_GET_CLOCK, s, "KVM_GET_CLOCK");
            return new ClockData(s.get(JAVA_LONG, 0), s.get(JAVA_INT, 8), s.get(JAVA_LONG, 16), s.get(JAVA_LONG, 24));
        }
    }

    /** KVM_SET_CLOCK: see {@link ClockData#flags()} for what the flags do. */
    public void setClock(ClockData clock) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.CLOCK_DATA);
            s.set(JAVA_LONG, 0, clock.clock());
            s.set(JAVA_INT, 8, clock.flags());
            s.set(JAVA_LONG, 16, clock.realtime());
            s.set(JAVA_LONG, 24, clock.hostTsc());
            Libc.ioctl(fd, Ioctls.KVM_SET_CLOCK, s, "KVM_SET_CLOCK");
        }
    }

    /**
     * Reads the in-kernel device state: PIC master, PIC slave, IOAPIC (if {@link #createIrqchip} was
     * called), PIT (if {@link #createPit2} was), kvmclock (if KVM_CAP_ADJUST_CLOCK). All vCPUs must
     * be stopped, and captured in the same pause, for a consistent snapshot.
     */
    public VmState captureState() {
        List<byte[]> chips = irqchipCreated
                ? List.of(getIrqchip(IRQCHIP_PIC_MASTER), getIrqchip(IRQCHIP_PIC_SLAVE), getIrqchip(IRQCHIP_IOAPIC))
                : List.of();
        byte[] pit = pitCreated ? getPit2() : null;
        ClockData clock = checkExtension(Capability.ADJUST_CLOCK) > 0 ? getClock() : null;
        return new VmState(chips, pit, clock);
    }

    /**
     * Writes a captured device state into this VM, which must have the same in-kernel devices
     * (irqchip, PIT) created. Order, as Firecracker restores: PIT, kvmclock, PIC master, PIC slave,
     * IOAPIC; all before the vCPUs' {@link VcpuFd#restoreState} (the IOAPIC re-delivers pending
     * interrupts to the LAPICs, whose restore then sets their final IRR). The clock is set to the
     * captured value with no flags, so kvmclock resumes where it stopped; call
     * {@link #setClock} with {@link ClockData#REALTIME} afterwards to count the time in between.
     */
    public void restoreState(VmState state) {
        if (state.pit() != null) setPit2(state.pit());
        if (state.clock() != null) setClock(ClockData.of(state.clock().clock()));
        for (int chip = 0; chip < state.irqchips().size(); chip++) setIrqchip(chip, state.irqchip(chip));
    }

    // ---- Dirty-page logging ----

    /**
     * KVM_GET_DIRTY_LOG: one bit per page of memory slot {@code slot} (created with
     * {@link #MEM_LOG_DIRTY_PAGES}), bit {@code i % 64} of word {@code i / 64} for page {@code i};
     * {@code pages} must be the slot's size in pages. KVM clears the log as it returns it, unless
     * MANUAL_DIRTY_LOG_PROTECT2 is enabled (then see {@link #clearDirtyLog}). Fails with ENOENT for
     * a slot without dirty logging.
     */
    public long[] getDirtyLog(int slot, long pages) {
        int words = Math.toIntExact((pages + 63) / 64);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bitmap = arena.allocate(8L * Math.max(words, 1), 8);
            MemorySegment s = arena.allocate(Structs.DIRTY_LOG);
            s.set(JAVA_INT, 0, slot);
            s.set(ADDRESS, 8, bitmap);
            Libc.ioctl(fd, Ioctls.KVM_GET_DIRTY_LOG, s, "KVM_GET_DIRTY_LOG(slot " + slot + ")");
            return bitmap.asSlice(0, 8L * words).toArray(JAVA_LONG);
        }
    }

    /**
     * KVM_CLEAR_DIRTY_LOG (needs {@link #enableCap} of MANUAL_DIRTY_LOG_PROTECT2): clears the dirty
     * bits set in {@code bitmap} for pages {@code firstPage .. firstPage + numPages - 1} of the slot and
     * write-protects those pages again, so later guest writes are logged. {@code firstPage} must be a
     * multiple of 64, and {@code numPages} too unless the range ends at the end of the slot.
     */
    public void clearDirtyLog(int slot, long firstPage, int numPages, long[] bitmap) {
        if (bitmap.length * 64L < numPages) throw new IllegalArgumentException("bitmap shorter than " + numPages + " pages");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bits = arena.allocate(8L * Math.max(bitmap.length, 1), 8);
            MemorySegment.copy(bitmap, 0, bits, JAVA_LONG, 0, bitmap.length);
            MemorySegment s = arena.allocate(Structs.CLEAR_DIRTY_LOG);
            s.set(JAVA_INT, 0, slot);
            s.set(JAVA_INT, 4, numPages);
            s.set(JAVA_LONG, 8, firstPage);
            s.set(ADDRESS, 16, bits);
            Libc.ioctl(fd, Ioctls.KVM_CLEAR_DIRTY_LOG, s, "KVM_CLEAR_DIRTY_LOG(slot " + slot + ")");
        }
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
