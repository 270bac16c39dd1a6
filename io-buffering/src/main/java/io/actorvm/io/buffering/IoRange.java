package io.actorvm.io.buffering;

/** A half-open range [base, base+length) of port or guest-physical addresses. */
public record IoRange(long base, long length) {
    public IoRange {
        if (length <= 0 || base < 0 || base + length < base) {
            throw new IllegalArgumentException("bad I/O range 0x%x+0x%x".formatted(base, length));
        }
    }

    public long end() {
        return base + length;
    }

    public boolean contains(long address) {
        return address >= base && address - base < length;
    }

    public boolean overlaps(IoRange o) {
        return base < o.end() && o.base < end();
    }
}
