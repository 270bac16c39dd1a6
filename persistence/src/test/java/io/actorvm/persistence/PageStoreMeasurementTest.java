package io.actorvm.persistence;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Not a benchmark with assertions on time: prints what storing a 256 MiB guest (65536 random 4 KiB
 * pages) costs on this machine, then the same pages again (all deduplicated), the manifest, a
 * restore, and durable puts one by one for comparison, for the figures in the issue.
 */
/** A measurement, not a check: runs with {@code -Dactorvm.measure=true} (it takes about a minute). */
@EnabledIfSystemProperty(named = "actorvm.measure", matches = "true", disabledReason = "measurement only: run with -Dactorvm.measure=true")
class PageStoreMeasurementTest {
    static final int PAGES = 65536;
    static final long RAM = (long) PAGES * PageStore.PAGE_SIZE;
    static final int CAPTURE_THREADS = Integer.getInteger("actorvm.captureThreads", 1);

    @TempDir
    Path root;

    @Test
    void storeAGuestOfRandomPagesThenTheSamePagesAgain() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ram = arena.allocate(RAM, 4096);
            SplittableRandom random = new SplittableRandom(42);
            for (long off = 0; off < RAM; off += 8) ram.set(ValueLayout.JAVA_LONG_UNALIGNED, off, random.nextLong());
            GuestMemory vm = GuestMemory.of(new AddressMap(RAM), List.of(new GuestMemory.Region(GuestAddress.of(0), ram)));

            Sha256.digest(ram); // warm-up
            long t0 = System.nanoTime();
            for (long off = 0; off < RAM; off += PageStore.PAGE_SIZE) Sha256.digest(ram.asSlice(off, PageStore.PAGE_SIZE));
            long hashOnly = System.nanoTime() - t0;

            Path dir = root.resolve("store");
            PageStore store = PageStore.open(dir);
            List<PageRef> refs;
            long written;
            long writtenBytes;
            long t1 = System.nanoTime();
            try (PageBatch batch = store.batch()) {
                refs = SnapshotPages.capture(vm, batch, gpn -> true, CAPTURE_THREADS);
                batch.commit();
                written = batch.written();
                writtenBytes = batch.writtenBytes();
            }
            long storeTime = System.nanoTime() - t1;
            assertEquals(PAGES, refs.size());
            assertEquals(PAGES, written);

            long t2 = System.nanoTime();
            try (PageBatch batch = store.batch()) {
                SnapshotPages.capture(vm, batch, gpn -> true);
                assertEquals(PAGES, batch.deduplicated());
                assertEquals(0, batch.written());
            }
            long dedupTime = System.nanoTime() - t2;

            SnapshotManifests manifests = SnapshotManifests.open(dir);
            long t3 = System.nanoTime();
            Path manifestFile = manifests.write(SnapshotManifest.newBuilder().setSnapshotId("full").setKind(SnapshotKind.FULL)
                    .setMemory(SnapshotPages.layoutOf(vm)).addAllPages(refs).build());
            long manifestWrite = System.nanoTime() - t3;
            long t4 = System.nanoTime();
            List<SnapshotManifest> chain = manifests.chain("full");
            long manifestRead = System.nanoTime() - t4;

            MemorySegment target = arena.allocate(RAM, 4096);
            GuestMemory restored = GuestMemory.of(new AddressMap(RAM), List.of(new GuestMemory.Region(GuestAddress.of(0), target)));
            long t5 = System.nanoTime();
            SnapshotPages.restore(restored, store, chain, true);
            long restoreTime = System.nanoTime() - t5;
            assertEquals(-1, ram.mismatch(target));

            long t6 = System.nanoTime();
            PageStore.open(dir);
            long reopen = System.nanoTime() - t6;

            // For comparison: durable puts one by one (file fsync + directory fsync each), on a sample.
            int sample = 1024;
            PageStore single = PageStore.open(root.resolve("single"));
            long t7 = System.nanoTime();
            for (int i = 0; i < sample; i++) single.put(ram.asSlice((long) i * PageStore.PAGE_SIZE, PageStore.PAGE_SIZE));
            long singleTime = System.nanoTime() - t7;

            long[] onDisk = usage(dir.resolve("pages"));
            System.out.printf("""
                    page store measurement (%d random pages of 4 KiB = %d MiB, file system %s, %d CPUs):
                      SHA-256 of every page only:       %6d ms
                      store in one batch, %d writers:    %6d ms  (%.0f pages/s; %d MiB written, %d files, %d MiB on disk by du)
                      the same pages again (all dedup): %6d ms
                      manifest write / read+verify:     %6d ms / %d ms  (%d KiB for %d pages)
                      restore into fresh memory:        %6d ms
                      reopen (stale-temporary scan):    %6d ms
                      one-by-one durable puts:          %6d ms for %d pages (%.0f pages/s)
                    %n""",
                    PAGES, RAM >> 20, Files.getFileStore(dir).type(), Runtime.getRuntime().availableProcessors(),
                    hashOnly / 1_000_000,
                    CAPTURE_THREADS, storeTime / 1_000_000, PAGES / (storeTime / 1e9), writtenBytes >> 20, onDisk[0], onDisk[1] >> 10,
                    dedupTime / 1_000_000,
                    manifestWrite / 1_000_000, manifestRead / 1_000_000, Files.size(manifestFile) >> 10, PAGES,
                    restoreTime / 1_000_000,
                    reopen / 1_000_000,
                    singleTime / 1_000_000, sample, sample / (singleTime / 1e9));
        }
    }

    /** Files and KiB used (du -sk) under a directory. */
    private static long[] usage(Path dir) throws IOException, InterruptedException {
        long files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).count();
        }
        long kib = -1;
        try {
            Process du = new ProcessBuilder("du", "-sk", dir.toString()).redirectErrorStream(true).start();
            String out = new String(du.getInputStream().readAllBytes());
            if (du.waitFor() == 0) kib = Long.parseLong(out.split("\\s+")[0]);
        } catch (IOException | NumberFormatException e) {
            // du unavailable: leave -1
        }
        return new long[] {files, kib};
    }
}
