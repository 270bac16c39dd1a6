package io.actorvm.kvm;

/**
 * KVM ioctl request numbers, built the way {@code <asm-generic/ioctl.h>} builds them
 * (direction, size, type 0xAE, number). The layout test checks each one against the C headers.
 */
public final class Ioctls {
    private Ioctls() {}

    private static final int KVMIO = 0xAE;
    private static final long NONE = 0, WRITE = 1, READ = 2;

    static long io(int nr) {
        return ioc(NONE, nr, 0);
    }

    static long iow(int nr, long size) {
        return ioc(WRITE, nr, size);
    }

    static long ior(int nr, long size) {
        return ioc(READ, nr, size);
    }

    static long iowr(int nr, long size) {
        return ioc(READ | WRITE, nr, size);
    }

    private static long ioc(long dir, int nr, long size) {
        return (dir << 30) | (size << 16) | ((long) KVMIO << 8) | nr;
    }

    // System ioctls
    public static final long KVM_GET_API_VERSION = io(0x00);
    public static final long KVM_CREATE_VM = io(0x01);
    public static final long KVM_CHECK_EXTENSION = io(0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    public static final long KVM_GET_MSR_INDEX_LIST = iowr(0x02, Structs.MSR_LIST.byteSize());
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(0x05, 8);

    // VM ioctls
    public static final long KVM_CREATE_VCPU = io(0x41);
    public static final long KVM_GET_DIRTY_LOG = iow(0x42, Structs.DIRTY_LOG.byteSize());
    public static final long KVM_SET_USER_MEMORY_REGION = iow(0x46, Structs.USERSPACE_MEMORY_REGION.byteSize());
    public static final long KVM_SET_TSS_ADDR = io(0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = iow(0x48, 8);
    public static final long KVM_CREATE_IRQCHIP = io(0x60);
    public static final long KVM_IRQ_LINE = iow(0x61, Structs.IRQ_LEVEL.byteSize());
    /** _IOWR although it only reads from user space: a historical quirk the header keeps. */
    public static final long KVM_GET_IRQCHIP = iowr(0x62, Structs.IRQCHIP.byteSize());
    /** _IOR although it writes to the kernel: a historical quirk the header keeps. */
    public static final long KVM_SET_IRQCHIP = ior(0x63, Structs.IRQCHIP.byteSize());
    public static final long KVM_REGISTER_COALESCED_MMIO = iow(0x67, Structs.COALESCED_MMIO_ZONE.byteSize());
    public static final long KVM_UNREGISTER_COALESCED_MMIO = iow(0x68, Structs.COALESCED_MMIO_ZONE.byteSize());
    public static final long KVM_IRQFD = iow(0x76, Structs.IRQFD.byteSize());
    public static final long KVM_CREATE_PIT2 = iow(0x77, Structs.PIT_CONFIG.byteSize());
    public static final long KVM_IOEVENTFD = iow(0x79, Structs.IOEVENTFD.byteSize());
    public static final long KVM_SET_CLOCK = iow(0x7b, Structs.CLOCK_DATA.byteSize());
    public static final long KVM_GET_CLOCK = ior(0x7c, Structs.CLOCK_DATA.byteSize());
    public static final long KVM_GET_PIT2 = ior(0x9f, Structs.PIT_STATE2.byteSize());
    public static final long KVM_SET_PIT2 = iow(0xa0, Structs.PIT_STATE2.byteSize());
    /** On a VM fd (KVM_CAP_ENABLE_CAP_VM) or a vCPU fd (KVM_CAP_ENABLE_CAP). */
    public static final long KVM_ENABLE_CAP = iow(0xa3, Structs.ENABLE_CAP.byteSize());
    public static final long KVM_CLEAR_DIRTY_LOG = iowr(0xc0, Structs.CLEAR_DIRTY_LOG.byteSize());

    // vCPU ioctls
    public static final long KVM_RUN = io(0x80);
    public static final long KVM_GET_REGS = ior(0x81, Structs.REGS.byteSize());
    public static final long KVM_SET_REGS = iow(0x82, Structs.REGS.byteSize());
    public static final long KVM_GET_SREGS = ior(0x83, Structs.SREGS.byteSize());
    public static final long KVM_SET_SREGS = iow(0x84, Structs.SREGS.byteSize());
    public static final long KVM_GET_MSRS = iowr(0x88, 8);
    public static final long KVM_SET_MSRS = iow(0x89, 8);
    public static final long KVM_SET_SIGNAL_MASK = iow(0x8b, 4);
    public static final long KVM_GET_FPU = ior(0x8c, Structs.FPU.byteSize());
    public static final long KVM_SET_FPU = iow(0x8d, Structs.FPU.byteSize());
    public static final long KVM_GET_LAPIC = ior(0x8e, Structs.LAPIC_STATE.byteSize());
    public static final long KVM_SET_LAPIC = iow(0x8f, Structs.LAPIC_STATE.byteSize());
    public static final long KVM_SET_CPUID2 = iow(0x90, 8);
    public static final long KVM_GET_CPUID2 = iowr(0x91, 8);
    public static final long KVM_GET_MP_STATE = ior(0x98, 4);
    public static final long KVM_SET_MP_STATE = iow(0x99, 4);
    public static final long KVM_GET_VCPU_EVENTS = ior(0x9f, Structs.VCPU_EVENTS.byteSize());
    public static final long KVM_SET_VCPU_EVENTS = iow(0xa0, Structs.VCPU_EVENTS.byteSize());
    public static final long KVM_GET_DEBUGREGS = ior(0xa1, Structs.DEBUGREGS.byteSize());
    public static final long KVM_SET_GUEST_DEBUG = iow(0x9b, Structs.GUEST_DEBUG.byteSize());
    public static final long KVM_SET_DEBUGREGS = iow(0xa2, Structs.DEBUGREGS.byteSize());
    /** The frequency is the ioctl's integer argument, in kHz. */
    public static final long KVM_SET_TSC_KHZ = io(0xa2);
    /** Returns the frequency in kHz as the ioctl's result. */
    public static final long KVM_GET_TSC_KHZ = io(0xa3);
    public static final long KVM_GET_XSAVE = ior(0xa4, Structs.XSAVE.byteSize());
    public static final long KVM_SET_XSAVE = iow(0xa5, Structs.XSAVE.byteSize());
    public static final long KVM_GET_XCRS = ior(0xa6, Structs.XCRS.byteSize());
    public static final long KVM_SET_XCRS = iow(0xa7, Structs.XCRS.byteSize());
    /** Same encoded size as KVM_GET_XSAVE; the kernel writes KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes. */
    public static final long KVM_GET_XSAVE2 = ior(0xcf, Structs.XSAVE.byteSize());
}
