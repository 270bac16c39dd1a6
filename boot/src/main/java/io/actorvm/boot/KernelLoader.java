package io.actorvm.boot;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.lang.foreign.MemorySegment;

/** Places an {@link ElfKernel}'s segments in guest memory. */
public final class KernelLoader {
    private KernelLoader() {}

    /** Copies every segment to its physical address and zero-fills its BSS; refuses segments outside RAM. */
    public static void load(ElfKernel kernel, byte[] file, GuestMemory memory) {
        for (ElfKernel.LoadSegment s : kernel.segments()) {
            if (!memory.isRam(GuestAddress.of(s.physAddress()), s.memSize())) {
                throw new KernelFormatException("kernel segment at 0x%x+0x%x does not fit in guest RAM (give the VM more memory)"
                        .formatted(s.physAddress(), s.memSize()));
            }
            if (s.physAddress() < BootLayout.KERNEL_MIN_ADDRESS) {
                throw new KernelFormatException("kernel segment at 0x%x overlaps the boot structures below 0x%x"
                        .formatted(s.physAddress(), BootLayout.KERNEL_MIN_ADDRESS));
            }
            MemorySegment dst = memory.slice(GuestAddress.of(s.physAddress()), s.memSize());
            MemorySegment.copy(MemorySegment.ofArray(file), s.fileOffset(), dst, 0, s.fileSize());
            dst.asSlice(s.fileSize()).fill((byte) 0);
        }
    }
}
