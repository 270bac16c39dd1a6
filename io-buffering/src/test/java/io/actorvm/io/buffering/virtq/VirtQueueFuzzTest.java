package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.io.buffering.virtq.DescriptorChain.Segment;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded fuzzing of {@link SplitQueue} by a hostile driver. Each iteration the driver offers a
 * batch of chains — mostly plausible, some mutated into garbage (loops, wild indices, addresses
 * outside RAM or across regions, bad flags, bad indirect tables, jumping avail idx) — and the device
 * pops, reads, writes and completes them. The rules checked:
 * <ul>
 * <li>pop either returns a chain that satisfies every invariant (segments inside one RAM region,
 *     readable before writable, at most size direct descriptors, within the byte cap) — exactly the
 *     offered one when the driver did not cheat — or throws {@link VirtQueueException}; anything
 *     else fails the test;</li>
 * <li>a pop, good or bad, changes no guest memory and a failing pop no queue state;</li>
 * <li>writes through a chain and addUsed/setNotification change exactly what a model of them
 *     predicts: a heap mirror of all guest RAM gets the same writes, then the two are compared.</li>
 * </ul>
 * Guest RAM here is three small regions over a real anonymous mapping, with a hole after the
 * first and the last two back to back, so a full compare each step stays cheap.
 * Reproduce a failure with {@code -Dvirtq.fuzz.seed=0x...} (and {@code -Dvirtq.fuzz.iterations=}).
 */
class VirtQueueFuzzTest {
    private static final long SEED = Long.decode(System.getProperty("virtq.fuzz.seed", "0x5eed2025"));
    private static final int ITERATIONS = Integer.getInteger("virtq.fuzz.iterations", 1_000_000);
    private static final int WORKERS = 2;

    @Test
    void hostileRingsGiveValidChainsOrVirtQueueExceptions() throws Exception {
        System.out.printf("VirtQueueFuzzTest: seed 0x%x, %,d iterations on %d workers (rerun with -Dvirtq.fuzz.seed=0x%x)%n",
                SEED, ITERATIONS, WORKERS, SEED);
        long start = System.nanoTime();
        Stats total = new Stats();
        try (ExecutorService pool = Executors.newFixedThreadPool(WORKERS)) {
            List<Future<Stats>> results = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                int worker = w;
                int share = ITERATIONS / WORKERS + (w < ITERATIONS % WORKERS ? 1 : 0);
                results.add(pool.submit(() -> {
                    try (Fuzzer f = new Fuzzer(SEED, worker)) {
                        return f.run(share);
                    }
                }));
            }
            for (Future<Stats> r : results) total.add(r.get());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("VirtQueueFuzzTest: %s in %.1f s%n", total, seconds);
        total.violationKinds.forEach((k, v) -> System.out.printf("  %,10d  %s%n", v, k));

        assertEquals(ITERATIONS, total.iterations);
        // The generator is biased towards plausible rings: most chains must get through, and
        // every broad kind of violation must have been hit.
        assertTrue(total.exactChains > total.iterations, "exactly-checked valid chains: " + total.exactChains);
        assertTrue(total.violations > total.iterations / 50, "violations: " + total.violations);
        for (String kind : List.of("chain loops", "not in RAM", "wraps around", "zero-length", "next # out of range",
                "after a device-writable", "nested INDIRECT", "INDIRECT together with NEXT", "not negotiated",
                "indirect table length", "avail idx jumped", "head # out of range", "exceeds # bytes",
                "not #-byte aligned", "overlaps", "queue size # is not a power of two")) {
            assertTrue(total.violationKinds.keySet().stream().anyMatch(k -> k.contains(kind)), "never provoked: " + kind);
        }
    }

    /** Counters for the report; merged across workers. */
    static final class Stats {
        long iterations, layoutsRejected, chainsOffered, chainsPopped, exactChains, violations, mutatedAccepted,
                writes, bytesWritten, interrupts;
        final Map<String, Long> violationKinds = new TreeMap<>();

        void violation(VirtQueueException e) {
            violations++;
            // "descriptor 7: chain loops (...)" -> "descriptor #: chain loops (...)": one line per kind.
            violationKinds.merge(e.getMessage().replaceAll("0x[0-9a-f]+|\\d+", "#"), 1L, Long::sum);
        }

        void add(Stats o) {
            iterations += o.iterations;
            layoutsRejected += o.layoutsRejected;
            chainsOffered += o.chainsOffered;
            chainsPopped += o.chainsPopped;
            exactChains += o.exactChains;
            violations += o.violations;
            mutatedAccepted += o.mutatedAccepted;
            writes += o.writes;
            bytesWritten += o.bytesWritten;
            interrupts += o.interrupts;
            o.violationKinds.forEach((k, v) -> violationKinds.merge(k, v, Long::sum));
        }

        @Override
        public String toString() {
            return ("%,d iterations: %,d chains offered, %,d popped (%,d checked exactly, %,d mutated but still valid), "
                    + "%,d violations (%,d of them rejected queue layouts), %,d chain writes (%,d bytes), %,d interrupts")
                    .formatted(iterations, chainsOffered, chainsPopped, exactChains, mutatedAccepted, violations,
                            layoutsRejected, writes, bytesWritten, interrupts);
        }
    }

    /** What a pop of one offered chain must give. */
    private enum Outcome { EXACT, MUST_FAIL, EITHER }

    private record Offer(int head, List<Segment> segments, Outcome outcome) {}

    /** One worker: its own guest memory, random stream and queue episodes. */
    static final class Fuzzer implements AutoCloseable {
        // Guest RAM: A [0, 0x8000), hole, B [0x10000, 0x12000), C [0x12000, 0x13000) right after B.
        // Small on purpose: the whole of it is compared with the model twice per iteration.
        static final long A = 0, A_SIZE = 0x8000, B = 0x10000, B_SIZE = 0x2000, C = 0x12000, C_SIZE = 0x1000, RAM_END = C + C_SIZE;
        // Inside A: rings at the bottom, indirect tables next, buffers above; B also holds tables.
        static final long TABLES_A = 0x2400, TABLES_A_END = 0x3400, TABLES_B = B, TABLES_B_END = B + 0x800, BUFFERS_A = 0x3400;
        private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final long seed;
        private final int worker;
        private final SplittableRandom rnd;
        private final GuestMemory backing;
        private final GuestMemory memory;
        private final List<GuestMemory.Region> regions;
        private final MemorySegment[] mirror;
        private final Stats stats = new Stats();
        private final byte[] junk = new byte[(int) RAM_END];

        // The current episode: one queue from configuration until it breaks (or we move on).
        private SplitQueue q;
        private TestDriver d;
        private int size;
        private boolean eventIdx, indirect;
        private long cap, desc, avail, used;
        private int lastAvail, usedIdx, lastSignalled;
        private boolean newEpisode = true;
        // The current iteration, for failure messages.
        private int iteration;
        private String step = "";

        Fuzzer(long seed, int worker) {
            this.seed = seed;
            this.worker = worker;
            this.rnd = new SplittableRandom(seed + 0x9E3779B97F4A7C15L * worker);
            AddressMap map = new AddressMap(2 * AddressMap.MiB);
            this.backing = GuestMemory.allocate(map);
            this.regions = List.of(new GuestMemory.Region(GuestAddress.of(A), backing.slice(GuestAddress.of(0), A_SIZE)),
                    new GuestMemory.Region(GuestAddress.of(B), backing.slice(GuestAddress.of(0x10000), B_SIZE)),
                    new GuestMemory.Region(GuestAddress.of(C), backing.slice(GuestAddress.of(0x40000), C_SIZE)));
            this.memory = GuestMemory.of(map, regions);
            this.mirror = regions.stream().map(r -> MemorySegment.ofArray(new byte[(int) r.size()])).toArray(MemorySegment[]::new);
        }

        @Override
        public void close() {
            backing.close();
        }

        Stats run(int iterations) {
            for (iteration = 0; iteration < iterations; iteration++) {
                try {
                    if (newEpisode || rnd.nextInt(400) == 0) startEpisode();
                    else batch();
                } catch (Throwable t) {
                    throw new AssertionError("seed 0x%x worker %d iteration %d (%s; queue %s): %s"
                            .formatted(seed, worker, iteration, step, q == null ? "none" : q.state(), t), t);
                }
                stats.iterations++;
            }
            return stats;
        }

        // --- episodes: queue configuration, sometimes hostile ---

        private void startEpisode() {
            step = "configure";
            q = null;
            newEpisode = false;
            if (rnd.nextInt(10) == 0) {
                rnd.nextBytes(junk);
                for (GuestMemory.Region r : regions) r.host().copyFrom(MemorySegment.ofArray(junk).asSlice(r.guestAddress().value(), r.size()));
            }
            size = 1 << (rnd.nextInt(100) < 85 ? 3 + rnd.nextInt(6) : rnd.nextInt(3));
            eventIdx = rnd.nextBoolean();
            indirect = rnd.nextInt(5) != 0;
            cap = rnd.nextInt(10) == 0 ? 1 + rnd.nextInt(4096) : SplitQueue.DEFAULT_MAX_CHAIN_BYTES;
            desc = 16L * rnd.nextInt(64);
            avail = 0x1400 + 2L * rnd.nextInt(128);
            used = 0x1800 + 4L * rnd.nextInt(64);
            if (rnd.nextInt(10) == 0) {
                long wild = switch (rnd.nextInt(6)) {
                    case 0 -> rnd.nextLong(RAM_END);                           // anywhere in RAM, maybe overlapping
                    case 1 -> A_SIZE - rnd.nextInt(0x100);                      // running into the hole
                    case 2 -> B + B_SIZE - rnd.nextInt(0x100);                  // straddling B and C
                    case 3 -> rnd.nextLong();                                   // anything at all
                    case 4 -> -16L * (1 + rnd.nextInt(16));                     // wrapping
                    default -> RAM_END + rnd.nextInt(0x1000);                   // past the end
                };
                switch (rnd.nextInt(5)) {
                    case 0 -> desc = wild;
                    case 1 -> avail = wild;
                    case 2 -> used = wild;
                    case 3 -> used |= 1 + rnd.nextInt(3);                       // misaligned
                    default -> size = rnd.nextInt(3) == 0 ? rnd.nextInt(70000) - 100 : 1 << rnd.nextInt(17);
                }
            }
            int start = switch (rnd.nextInt(4)) {
                case 0, 1 -> 0;
                case 2 -> rnd.nextInt(65536);
                default -> (65536 - rnd.nextInt(2 * Math.max(size, 1) + 1)) & 0xFFFF;   // just before the wrap
            };
            boolean valid = layoutIsValid();
            try {
                q = new SplitQueue(memory, new SplitQueue.State(size, desc, avail, used, eventIdx, indirect, start, start, start), cap);
            } catch (VirtQueueException e) {
                stats.violation(e);
                stats.layoutsRejected++;
                if (valid) throw new AssertionError("valid layout rejected: " + e.getMessage());
                newEpisode = true;
                return;
            }
            if (!valid) throw new AssertionError("invalid layout accepted: size %d desc 0x%x avail 0x%x used 0x%x".formatted(size, desc, avail, used));
            d = new TestDriver(memory, size, desc, avail, used).startAt(start);
            lastAvail = usedIdx = lastSignalled = start;
        }

        /** The layout rules, written out again independently of SplitQueue. */
        private boolean layoutIsValid() {
            if (size < 1 || size > 32768 || (size & (size - 1)) != 0) return false;
            long[][] areas = {{desc, 16L * size, 16}, {avail, 6 + 2L * size, 2}, {used, 6 + 8L * size, 4}};
            for (long[] a : areas) {
                if (a[0] % a[2] != 0 || regionOf(a[0], a[1]) < 0) return false;
            }
            for (int i = 0; i < 3; i++) {
                for (int j = i + 1; j < 3; j++) {
                    if (areas[i][0] < areas[j][0] + areas[j][1] && areas[j][0] < areas[i][0] + areas[i][1]) return false;
                }
            }
            return true;
        }

        // --- one batch: the driver offers chains, the device takes and completes them ---

        private void batch() {
            step = "offer";
            int[] free = shuffledIndices();
            int freeAt = 0;
            long[] tableAt = {TABLES_A, TABLES_B};
            List<Offer> offers = new ArrayList<>();
            int chains = rnd.nextInt(20) == 0 ? 0 : 1 + rnd.nextInt(Math.min(size, 8));
            for (int c = 0; c < chains && freeAt < size; c++) {
                offers.add(offerChain(free, freeAt, tableAt));
                freeAt = lastFreeAt;
            }
            stats.chainsOffered += offers.size();

            boolean idxGarbage = false;
            int published = d.availIdx;
            switch (rnd.nextInt(100)) {
                case 0, 1 -> {
                    published = rnd.nextInt(65536);
                    d.setAvailIdxRaw(published);
                    idxGarbage = true;
                }
                case 2 -> {
                    published = (lastAvail + size + 1 + rnd.nextInt(1000)) & 0xFFFF;
                    d.setAvailIdxRaw(published);
                    idxGarbage = true;
                }
                default -> d.publish();
            }
            d.setAvailFlags(switch (rnd.nextInt(10)) {
                case 0 -> rnd.nextInt(65536);
                case 1, 2, 3 -> SplitQueue.VIRTQ_AVAIL_F_NO_INTERRUPT;
                default -> 0;
            });
            d.setUsedEvent(rnd.nextBoolean() ? rnd.nextInt(65536) : (usedIdx + rnd.nextInt(offers.size() + 2)) & 0xFFFF);
            snapshot();

            // Pop everything. Pops only read guest memory.
            step = "pop";
            int pending = (published - lastAvail) & 0xFFFF;
            boolean mustJump = pending > size;
            List<DescriptorChain> popped = new ArrayList<>();
            boolean broken = false;
            for (int i = 0; ; i++) {
                SplitQueue.State before = q.state();
                Offer offer = !idxGarbage && i < offers.size() ? offers.get(i) : null;
                Optional<DescriptorChain> got;
                try {
                    got = q.pop();
                } catch (VirtQueueException e) {
                    stats.violation(e);
                    assertEquals(before, q.state(), "a failed pop changed the queue state");
                    if (offer != null && offer.outcome() == Outcome.EXACT) throw new AssertionError("valid chain rejected: " + e.getMessage() + " " + offer);
                    broken = true;
                    break;
                }
                if (mustJump) throw new AssertionError("avail idx %d pending over a queue of %d accepted".formatted(pending, size));
                if (got.isEmpty()) {
                    if (!idxGarbage && i != offers.size()) throw new AssertionError("queue empty after %d of %d chains".formatted(i, offers.size()));
                    break;
                }
                if (i >= pending) throw new AssertionError("popped more chains than avail idx offered");
                DescriptorChain chain = got.get();
                checkInvariants(chain);
                stats.chainsPopped++;
                lastAvail = (lastAvail + 1) & 0xFFFF;
                if (offer != null) {
                    switch (offer.outcome()) {
                        case EXACT -> {
                            assertEquals(offer.head(), chain.head(), "head");
                            assertEquals(offer.segments(), chain.segments(), "segments");
                            stats.exactChains++;
                        }
                        case MUST_FAIL -> throw new AssertionError("invalid chain accepted: " + chain + " for " + offer);
                        case EITHER -> stats.mutatedAccepted++;
                    }
                }
                popped.add(chain);
            }
            assertEquals(lastAvail, q.state().lastAvailIdx(), "lastAvailIdx");
            compare("pop");

            // Complete in any order: read, maybe write, addUsed. The mirror gets the same writes.
            Collections.shuffle(popped, new java.util.Random(rnd.nextLong()));
            for (DescriptorChain chain : popped) complete(chain);
            if (rnd.nextInt(10) < 7) checkInterrupt();
            if (rnd.nextInt(5) == 0) toggleNotification();
            assertEquals(new SplitQueue.State(size, desc, avail, used, eventIdx, indirect, lastAvail, usedIdx, lastSignalled), q.state());
            compare("complete");
            // A device that saw a violation goes to NEEDS_RESET; a driver that cheated on avail idx
            // has lost track of its own ring. Either way: a fresh queue next time.
            if (broken || idxGarbage) newEpisode = true;
        }

        private int lastFreeAt;

        private int[] shuffledIndices() {
            int[] a = new int[size];
            for (int i = 0; i < size; i++) a[i] = i;
            for (int i = size - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = a[i];
                a[i] = a[j];
                a[j] = t;
            }
            return a;
        }

        /**
         * Writes one chain into free descriptors (and maybe an indirect table), perhaps mutates it,
         * and places its head in the avail ring. Leaves the next free position in {@link #lastFreeAt}.
         */
        private Offer offerChain(int[] free, int freeAt, long[] tableAt) {
            int budget = size - freeAt;
            int entries = 1 + (rnd.nextInt(20) == 0 ? rnd.nextInt(64) : rnd.nextInt(8));
            int area = rnd.nextInt(2);
            long tableEnd = area == 0 ? TABLES_A_END : TABLES_B_END;
            boolean aligned = rnd.nextInt(4) != 0;
            long table = aligned ? (tableAt[area] + 15) & ~15L : tableAt[area] + rnd.nextInt(16);
            // A table must survive until the pop: not past its area, not under a ring the driver
            // writes meanwhile (a wild but valid layout can put a ring in the table areas).
            boolean useIndirect = rnd.nextInt(10) < 3 && (indirect || rnd.nextInt(10) == 0) && table + 16L * entries <= tableEnd
                    && apart(table, 16L * entries, desc, 16L * size) && apart(table, 16L * entries, avail, 6 + 2L * size)
                    && apart(table, 16L * entries, used, 6 + 8L * size);
            int direct = useIndirect ? 1 + rnd.nextInt(Math.min(budget, 3)) : 1 + rnd.nextInt(Math.min(budget, smallLength()));
            int buffers = useIndirect ? direct - 1 + entries : direct;
            int readable = rnd.nextInt(buffers + 1);

            List<Segment> segments = new ArrayList<>(buffers);
            long bytes = 0;
            for (int i = 0; i < buffers; i++) {
                long[] b = randomBuffer();
                segments.add(new Segment(GuestAddress.of(b[0]), b[1], i >= readable));
                bytes += b[1];
            }
            List<Long> written = new ArrayList<>(); // guest addresses of every descriptor we wrote, for mutations
            int[] indices = new int[direct];
            System.arraycopy(free, freeAt, indices, 0, direct);
            lastFreeAt = freeAt + direct;
            int bufferAt = 0;
            for (int i = 0; i < direct; i++) {
                boolean last = i == direct - 1;
                if (last && useIndirect) {
                    // WRITE and a junk next are allowed on the INDIRECT descriptor and must be ignored.
                    int flags = TestDriver.INDIRECT | (rnd.nextBoolean() ? TestDriver.WRITE : 0);
                    d.desc(indices[i], table, 16L * entries, flags, rnd.nextInt(65536));
                } else {
                    Segment s = segments.get(bufferAt++);
                    d.desc(indices[i], s.address().value(), s.length(), (s.writable() ? TestDriver.WRITE : 0) | (last ? 0 : TestDriver.NEXT),
                            last ? rnd.nextInt(65536) : indices[i + 1]);
                }
                written.add(desc + 16L * indices[i]);
            }
            if (useIndirect) {
                int[] order = new int[entries];
                for (int i = 0; i < entries; i++) order[i] = i;
                // The walk starts at entry 0 (spec 2.7.5.3); the rest may be chained in any order.
                for (int i = entries - 1; i > 1; i--) {
                    int j = 1 + rnd.nextInt(i);
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
                for (int k = 0; k < entries; k++) {
                    Segment s = segments.get(bufferAt++);
                    boolean last = k == entries - 1;
                    d.writeDesc(table, order[k], s.address().value(), s.length(), (s.writable() ? TestDriver.WRITE : 0) | (last ? 0 : TestDriver.NEXT),
                            last ? rnd.nextInt(65536) : order[k + 1]);
                    written.add(table + 16L * order[k]);
                }
                tableAt[area] = table + 16L * entries;
            }

            Outcome outcome = bytes > cap || (useIndirect && !indirect) ? Outcome.MUST_FAIL : Outcome.EXACT;
            if (rnd.nextInt(12) == 0) {
                int n = 1 + rnd.nextInt(3);
                for (int i = 0; i < n; i++) mutate(written.get(rnd.nextInt(written.size())), written, useIndirect ? table : -1, entries);
                outcome = Outcome.EITHER;
            }
            int head = indices[0];
            if (rnd.nextInt(100) == 0) {
                head = rnd.nextBoolean() ? size + rnd.nextInt(65536 - size) : rnd.nextInt(size);
                outcome = head >= size ? Outcome.MUST_FAIL : Outcome.EITHER;
            }
            d.place(head);
            return new Offer(head, segments, outcome);
        }

        private static boolean apart(long a, long aLength, long b, long bLength) {
            return a + aLength <= b || b + bLength <= a;
        }

        private int smallLength() {
            int r = rnd.nextInt(100);
            return r < 70 ? 4 : r < 95 ? 16 : size;
        }

        /** {address, length} of a plausible buffer: inside one region, mostly in the buffer area. */
        private long[] randomBuffer() {
            int pick = rnd.nextInt(100);
            long base, span;
            if (pick < 70) {
                base = BUFFERS_A;
                span = A_SIZE - BUFFERS_A;
            } else if (pick < 85) {
                base = B;
                span = B_SIZE;
            } else if (pick < 95) {
                base = C;
                span = C_SIZE;
            } else { // anywhere in A, rings and tables included: a hostile guest may do that
                base = A;
                span = A_SIZE;
            }
            long length = 1 + (rnd.nextInt(10) == 0 ? rnd.nextLong(span) : rnd.nextInt(256));
            return new long[] {base + rnd.nextLong(span - length + 1), length};
        }

        /** Rewrites one field of the descriptor at {@code at} into something a hostile driver would. */
        private void mutate(long at, List<Long> chain, long table, int entries) {
            MemorySegment dsc = memory.slice(GuestAddress.of(at), 16);
            int flags = Short.toUnsignedInt(dsc.get(U16, 12));
            switch (rnd.nextInt(16)) {
                case 0 -> { dsc.set(U16, 12, (short) (flags | TestDriver.NEXT)); dsc.set(U16, 14, (short) rnd.nextInt(65536)); }
                case 1 -> { dsc.set(U16, 12, (short) (flags | TestDriver.NEXT)); dsc.set(U16, 14, (short) rnd.nextInt(Math.max(size, entries))); }
                case 2 -> dsc.set(U32, 8, 0);
                case 3 -> dsc.set(U32, 8, rnd.nextInt());
                case 4 -> { // runs off the end of its region: into the hole, across B|C, past RAM
                    long[] ends = {A_SIZE, B + B_SIZE, RAM_END};
                    long end = ends[rnd.nextInt(3)];
                    dsc.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, end - 1 - rnd.nextInt(64));
                    dsc.set(U32, 8, 2 + rnd.nextInt(128));
                }
                case 5 -> dsc.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, rnd.nextLong());
                case 6 -> dsc.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, -1L - rnd.nextInt(0x1000));
                case 7 -> dsc.set(U16, 12, (short) rnd.nextInt(65536));
                case 8 -> dsc.set(U16, 12, (short) (flags ^ TestDriver.WRITE));
                case 9 -> { // INDIRECT pointing somewhere plausible-ish, with a plausible-ish length
                    dsc.set(U16, 12, (short) ((flags | TestDriver.INDIRECT) & (rnd.nextBoolean() ? ~TestDriver.NEXT : 0xFFFF)));
                    dsc.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, rnd.nextBoolean() ? TABLES_A + 16L * rnd.nextInt(64) : rnd.nextLong(RAM_END));
                    dsc.set(U32, 8, 16 * (1 + rnd.nextInt(8)) + (rnd.nextInt(4) == 0 ? rnd.nextInt(16) : 0));
                }
                case 10 -> dsc.set(U16, 12, (short) (flags | TestDriver.NEXT | TestDriver.INDIRECT));
                case 11 -> { // loop back to the head of this chain (or its indirect table)
                    dsc.set(U16, 12, (short) (flags | TestDriver.NEXT));
                    long first = chain.getFirst();
                    dsc.set(U16, 14, (short) (table >= 0 && at >= table ? rnd.nextInt(entries) : (first - desc) / 16));
                }
                case 12 -> dsc.set(U32, 8, rnd.nextBoolean() ? 16 * 32769 : 16 * rnd.nextInt(4) + 1 + rnd.nextInt(15));
                case 13 -> dsc.set(U32, 8, -1);
                case 14 -> dsc.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, A_SIZE + rnd.nextInt((int) (B - A_SIZE)));
                default -> dsc.set(U16, 14, (short) (dsc.get(U16, 14) + 1));
            }
        }

        private void checkInvariants(DescriptorChain chain) {
            // Plain ifs: assertion messages built eagerly for every segment cost more than the queue.
            List<Segment> segs = chain.segments();
            if (chain.head() < 0 || chain.head() >= size) throw new AssertionError("head out of range: " + chain);
            if (segs.isEmpty() || segs.size() > size - 1 + 32768) throw new AssertionError("segment count: " + chain);
            boolean writable = false;
            long bytes = 0;
            for (Segment s : segs) {
                if (s.length() < 1 || s.length() > 0xFFFF_FFFFL) throw new AssertionError("length: " + chain);
                if (regionOf(s.address().value(), s.length()) < 0) throw new AssertionError("segment not inside one RAM region: " + s + " in " + chain);
                if (writable && !s.writable()) throw new AssertionError("readable after writable: " + chain);
                writable = s.writable();
                bytes += s.length();
            }
            if (bytes > cap) throw new AssertionError("chain bytes " + bytes + " over cap " + cap + ": " + chain);
        }

        private void complete(DescriptorChain chain) {
            step = "complete";
            if (rnd.nextInt(10) < 4) {
                int max = rnd.nextInt((int) Math.min(chain.readableLength(), 1 << 16) + 8);
                byte[] got = chain.readAll(memory, max);
                byte[] expected = new byte[(int) Math.min(chain.readableLength(), max)];
                int at = 0;
                for (Segment s : chain.segments()) {
                    if (s.writable() || at == expected.length) break;
                    int n = (int) Math.min(s.length(), expected.length - at);
                    MemorySegment.copy(mirrorAt(s.address().value()), mirrorOffset(s.address().value()), MemorySegment.ofArray(expected), at, n);
                    at += n;
                }
                assertEquals(-1, MemorySegment.ofArray(expected).mismatch(MemorySegment.ofArray(got)), "readAll");
            }
            int writtenLength = 0;
            if (rnd.nextInt(10) < 6) {
                long writable = chain.writableLength();
                long offset = rnd.nextLong(Math.min(writable, 1 << 16) + 8);
                byte[] data = new byte[rnd.nextInt((int) Math.min(writable, 8192) + 16)];
                rnd.nextBytes(data);
                long n = rnd.nextBoolean() ? chain.write(memory, offset, data) : chain.write(memory, offset, MemorySegment.ofArray(data));
                assertEquals(Math.max(0, Math.min(data.length, writable - offset)), n, "bytes written");
                // The model: the same scatter, segment by segment, into the mirror.
                long skip = offset, done = 0;
                for (Segment s : chain.segments()) {
                    if (!s.writable() || done == n) continue;
                    if (skip >= s.length()) {
                        skip -= s.length();
                        continue;
                    }
                    long m = Math.min(s.length() - skip, n - done);
                    MemorySegment.copy(MemorySegment.ofArray(data), done, mirrorAt(s.address().value()), mirrorOffset(s.address().value()) + skip, m);
                    done += m;
                    skip = 0;
                }
                stats.writes++;
                stats.bytesWritten += n;
                writtenLength = (int) n;
            }
            if (rnd.nextInt(20) == 0) writtenLength = rnd.nextInt(Integer.MAX_VALUE);
            q.addUsed(chain.head(), writtenLength);
            long elem = used + 4 + 8L * (usedIdx % size);
            mirrorU32(elem, chain.head());
            mirrorU32(elem + 4, writtenLength);
            usedIdx = (usedIdx + 1) & 0xFFFF;
            mirrorU16(used + 2, usedIdx);
        }

        private void checkInterrupt() {
            step = "needsInterrupt";
            boolean expected;
            if (lastSignalled == usedIdx) expected = false;
            else if (eventIdx) {
                int event = mirrorU16(avail + 4 + 2L * size);
                expected = ((usedIdx - event - 1) & 0xFFFF) < ((usedIdx - lastSignalled) & 0xFFFF);
            } else expected = (mirrorU16(avail) & 1) == 0;
            lastSignalled = usedIdx;
            boolean got = q.needsInterrupt();
            assertEquals(expected, got, "needsInterrupt");
            if (got) stats.interrupts++;
        }

        private void toggleNotification() {
            step = "notification";
            boolean enable = rnd.nextBoolean();
            if (enable && rnd.nextBoolean()) {
                boolean more = q.enableNotificationAndCheck();
                assertEquals(mirrorU16(avail + 2) != lastAvail, more, "enableNotificationAndCheck");
            } else {
                q.setNotification(enable);
            }
            if (!eventIdx) mirrorU16(used, enable ? 0 : 1);
            else if (enable) mirrorU16(used + 4 + 8L * size, lastAvail);
        }

        // --- guest RAM and its mirror ---

        private int regionOf(long address, long length) {
            for (int i = 0; i < regions.size(); i++) {
                GuestMemory.Region r = regions.get(i);
                if (address >= r.guestAddress().value() && length >= 0 && length <= r.size() && address - r.guestAddress().value() <= r.size() - length) return i;
            }
            return -1;
        }

        private void snapshot() {
            for (int i = 0; i < regions.size(); i++) MemorySegment.copy(regions.get(i).host(), 0, mirror[i], 0, mirror[i].byteSize());
        }

        private void compare(String what) {
            for (int i = 0; i < regions.size(); i++) {
                long at = regions.get(i).host().mismatch(mirror[i]);
                if (at >= 0) {
                    long address = regions.get(i).guestAddress().value() + at;
                    throw new AssertionError("after %s: guest byte 0x%x is 0x%02x, expected 0x%02x (used ring 0x%x+0x%x)".formatted(what, address,
                            regions.get(i).host().get(ValueLayout.JAVA_BYTE, at), mirror[i].get(ValueLayout.JAVA_BYTE, at), used, 6 + 8L * size));
                }
            }
        }

        private MemorySegment mirrorAt(long address) {
            return mirror[regionOf(address, 1)];
        }

        private long mirrorOffset(long address) {
            return address - regions.get(regionOf(address, 1)).guestAddress().value();
        }

        private int mirrorU16(long address) {
            return Short.toUnsignedInt(mirrorAt(address).get(U16, mirrorOffset(address)));
        }

        private void mirrorU16(long address, int value) {
            mirrorAt(address).set(U16, mirrorOffset(address), (short) value);
        }

        private void mirrorU32(long address, int value) {
            mirrorAt(address).set(U32, mirrorOffset(address), value);
        }
    }
}
