package io.actorvm.io.buffering;

import java.util.Map;
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

    private final TreeMap<Long, Map.Entry<IoRange, T>> ranges = new TreeMap<>();

    /** Claims {@code range} for {@code owner}; overlapping an existing claim is a configuration error. */
    public void register(IoRange range, T owner) {
        var below = ranges.floorEntry(range.end() - 1);
        if (below != null && below.getValue().getKey().overlaps(range)) {
            throw new IllegalArgumentException(range + " overlaps " + below.getValue().getKey()
                    + " of " + below.getValue().getValue());
        }
        ranges.put(range.base(), Map.entry(range, owner));
    }

    /** The owner of {@code address}, if any. An access must lie inside one range to be routed. */
    public Optional<Target<T>> lookup(long address, int size) {
        var e = ranges.floorEntry(address);
        if (e == null) return Optional.empty();
        IoRange r = e.getValue().getKey();
        if (!r.contains(address) || !r.contains(address + Math.max(size, 1) - 1)) return Optional.empty();
        return Optional.of(new Target<>(e.getValue().getValue(), r, address - r.base()));
    }

    public int size() {
        return ranges.size();
    }
}
