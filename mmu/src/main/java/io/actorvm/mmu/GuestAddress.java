package io.actorvm.mmu;

/**
 * A guest-physical address, kept apart by type from host addresses, offsets and lengths (as
 * rust-vmm's {@code GuestAddress}): what a guest's page tables and a device's DMA registers hold.
 * Unsigned 64-bit; arithmetic that would wrap is refused, since an address that wraps is never a
 * place in guest RAM.
 */
public record GuestAddress(long value) implements Comparable<GuestAddress> {
    public static GuestAddress of(long value) {
        return new GuestAddress(value);
    }

    /**
     * An address as a user writes it: hex with {@code 0x} or decimal, {@code _} allowed between
     * digits, unsigned 64-bit. An {@link IllegalArgumentException} naming the text otherwise.
     */
    public static GuestAddress parse(String text) {
        try {
            String t = text.strip().toLowerCase().replace("_", "");
            return new GuestAddress(t.startsWith("0x") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseUnsignedLong(t));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad address '" + text + "' (e.g. 0x1000 or 4096)");
        }
    }

    /** {@code this + offset} ({@code offset} unsigned); an {@link ArithmeticException} if that passes 2^64. */
    public GuestAddress plus(long offset) {
        long sum = value + offset;
        if (Long.compareUnsigned(sum, value) < 0) {
            throw new ArithmeticException("guest address " + this + " + 0x" + Long.toHexString(offset) + " wraps");
        }
        return new GuestAddress(sum);
    }

    /** How far this address lies past {@code base} ({@code base} must not lie above it). */
    public long offsetFrom(GuestAddress base) {
        if (Long.compareUnsigned(value, base.value) < 0) throw new IllegalArgumentException(this + " lies below " + base);
        return value - base.value;
    }

    @Override
    public int compareTo(GuestAddress other) {
        return Long.compareUnsigned(value, other.value);
    }

    @Override
    public String toString() {
        return "0x" + Long.toHexString(value);
    }
}
