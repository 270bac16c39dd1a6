package io.actorvm.vmm.actors.io;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/** Exit and I/O counters of one VM, written by its vCPU threads, read by anyone. */
public final class IoStats {
    public final LongAdder exits = new LongAdder();
    public final LongAdder portWrites = new LongAdder(), portReads = new LongAdder();
    public final LongAdder mmioWrites = new LongAdder(), mmioReads = new LongAdder();
    public final LongAdder unknownPortWrites = new LongAdder(), unknownPortReads = new LongAdder();
    public final LongAdder unknownMmioWrites = new LongAdder(), unknownMmioReads = new LongAdder();
    public final LongAdder readTimeouts = new LongAdder();
    /** Accesses cut short because their vCPU was stopping (a write not sent, a read answered with all ones). */
    public final LongAdder stoppedAccesses = new LongAdder();
    public final LongAdder kicks = new LongAdder();
    public final LongAdder coalescedBatches = new LongAdder(), coalescedWrites = new LongAdder();
    public final LongAccumulator largestCoalescedBatch = new LongAccumulator(Math::max, 0);

    public Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("exits", exits.sum());
        m.put("port_writes", portWrites.sum());
        m.put("port_reads", portReads.sum());
        m.put("mmio_writes", mmioWrites.sum());
        m.put("mmio_reads", mmioReads.sum());
        m.put("unknown_port_writes", unknownPortWrites.sum());
        m.put("unknown_port_reads", unknownPortReads.sum());
        m.put("unknown_mmio_writes", unknownMmioWrites.sum());
        m.put("unknown_mmio_reads", unknownMmioReads.sum());
        m.put("read_timeouts", readTimeouts.sum());
        m.put("stopped_accesses", stoppedAccesses.sum());
        m.put("kicks", kicks.sum());
        m.put("coalesced_batches", coalescedBatches.sum());
        m.put("coalesced_writes", coalescedWrites.sum());
        m.put("largest_coalesced_batch", largestCoalescedBatch.get());
        return m;
    }
}
