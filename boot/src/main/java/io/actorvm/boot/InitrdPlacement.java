package io.actorvm.boot;

/**
 * Where an initrd goes: page-aligned, as high as possible in low RAM (the way boot loaders do it,
 * so the kernel's decompression area stays free), below the kernel's {@code initrd_addr_max},
 * and above everything the kernel claims ({@code kernelEnd}, i.e. load address + init_size).
 */
public final class InitrdPlacement {
    static final long PAGE = 4096;

    private InitrdPlacement() {}

    /** The initrd's guest-physical address; a one-line {@link KernelFormatException} if it cannot fit. */
    public static long place(long size, long lowRamEnd, long addrMax, long kernelEnd) {
        if (size <= 0) throw new KernelFormatException("initrd is empty");
        long top = Math.min(lowRamEnd, addrMax + 1); // addrMax is the highest address the initrd may occupy
        long address = (top - size) & ~(PAGE - 1);
        if (size > top || address < kernelEnd) {
            throw new KernelFormatException("initrd of %d bytes does not fit between the kernel (ends at 0x%x) and 0x%x: give the VM more memory"
                    .formatted(size, kernelEnd, top));
        }
        return address;
    }
}
