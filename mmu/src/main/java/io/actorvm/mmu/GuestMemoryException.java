package io.actorvm.mmu;

/** A guest-physical access that is not entirely inside guest RAM. Thrown instead of touching host memory. */
public final class GuestMemoryException extends RuntimeException {
    public GuestMemoryException(long address, long length) {
        super("guest-physical range 0x%x+0x%x is not RAM".formatted(address, length));
    }
}
