package io.actorvm.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** A VM handle: memory slots, the in-kernel irqchip and PIT, interrupts, ioeventfd, coalesced I/O. */
public final class VmFd implements AutoCloseable {
    /** KVM_MEM_LOG_DIRTY_PAGES. */
    public static final int MEM_LOG_DIRTY_PAGES = 1;
    /** KVM_MEM_READONLY. */
    public static final int MEM_READONLY = 2;
    /** KVM_IOEVENTFD_FLAG_DATAMATCH / _PIO / _DEASSIGN. */
    public static final int IOEVENTFD_DATAMATCH = 1, IOEVENTFD_PIO = 2, IOEVENTFD_DEASSIGN = 4;

    private final int fd;
    private final int vcpuMmapSize;

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
            return new VcpuFd(id, vcpuFd, arena, run);
        } catch (RuntimeException e) {
            arena.close();
            Libc.close(vcpuFd);
            throw e;
        }
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
