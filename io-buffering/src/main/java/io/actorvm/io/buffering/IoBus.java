package io.actorvm.io.buffering;

import java.util.Optional;
import java.util.TreeMap;

/**
 * One address space (the 64 Ki I/O ports, or guest-physical MMIO) mapped to the owners of its
 * ranges. Lookups are what every exit does, so they are a single floor lookup in a sorted map.
 * Built before the VM runs; read-only afterwards, so lookups need no locking.
 */
public final class IoBus<T> {

    /** Where an address landed: its owner, the owner's range, and the offset inside it. */
    public record Target<T>(T owner, IoRange range, long offset) {}

    /** One registered range and its owner; the offset of an address in it is {@code address - range().base()}. */
    public record Claim<T>(IoRange range, T owner) {}

    private final TreeMap<Long, Claim<T>> ranges = new TreeMap<>();

    /** Claims {@code range} for {@code owner}; overlapping an existing claim is a configuration error. */
    public void register(IoRange range, T owner) {
        var below = ranges.floorEntry(range.end() - 1);
        if (below != null && below.getValue().range().overlaps(range)) {
            throw new IllegalArgumentException(range + " overlaps " + below.getValue().range()
                    + " of " + below.getValue().owner());
        }
        ranges.put(range.base(), new Claim<>(range, owner));
    }

    /** The owner of {@code address}, if any. An access must lie inside one range to be routed. */
    public Optional<Target<T>> lookup(long address, int size) {
        Claim<T> c = claimOf(address, size);
        return c == null ? Optional.empty() : Optional.of(new Target<>(c.owner(), c.range(), address - c.range().base()));
    }

    /**
     * The claim the access lies inside, or null: {@link #lookup} without allocating, for the exit
     * path (the claim is the one registered, not a copy).
     */
    public Claim<T> claimOf(long address, int size) {
        var e = ranges.floorEntry(address);
        if (e == null) return null;
        IoRange r = e.getValue().range();
        if (!r.contains(address) || !r.contains(address + Math.max(size, 1) - 1)) return null;
        return e.getValue();
    }

    public int size() {
        return ranges.size();
    }
}
