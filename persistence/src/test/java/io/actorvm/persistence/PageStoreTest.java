package io.actorvm.persistence;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class PageStoreTest {
    @TempDir
    Path root;

    private static byte[] page(long seed) {
        byte[] p = new byte[PageStore.PAGE_SIZE];
        new Random(seed).nextBytes(p);
        return p;
    }

    private long filesUnder(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).count();
        }
    }

    @Test
    void roundTripFromHeapAndFromMemorySegment() {
        PageStore store = PageStore.open(root);
        byte[] p = page(1);
        String hash = store.put(p);
        assertEquals(Sha256.hex(p), hash);
        assertTrue(Sha256.isValid(hash));
        assertArrayEquals(p, store.get(hash));
        assertTrue(Files.isRegularFile(root.resolve("pages").resolve(hash.substring(0, 2)).resolve(hash.substring(2))));

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment guest = arena.allocate(PageStore.PAGE_SIZE);
            MemorySegment.copy(page(2), 0, guest, ValueLayout.JAVA_BYTE, 0, PageStore.PAGE_SIZE);
            String h2 = store.put(guest);
            assertArrayEquals(page(2), store.get(h2));

            MemorySegment target = arena.allocate(PageStore.PAGE_SIZE);
            store.readInto(hash, target);
            assertArrayEquals(p, target.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void samePageTwiceIsStoredOnce() throws IOException {
        PageStore store = PageStore.open(root);
        String a = store.put(page(7));
        try (PageBatch batch = store.batch()) {
            assertEquals(a, batch.put(page(7)));
            assertEquals(a, batch.put(page(7)));
            batch.put(page(8));
            assertEquals(1, batch.written());
            assertEquals(PageStore.PAGE_SIZE, batch.writtenBytes());
            assertEquals(2, batch.deduplicated());
        }
        assertEquals(2, filesUnder(root.resolve("pages")));
    }

    @Test
    void aBatchPublishesItsPagesAtCommit() throws IOException {
        PageStore store = PageStore.open(root);
        PageBatch batch = store.batch();
        String h = batch.put(page(10));
        assertEquals(h, batch.put(page(10)));
        assertEquals(1, batch.written());
        assertEquals(1, batch.deduplicated());
        assertFalse(store.contains(h), "not visible before the commit");
        assertEquals(1, filesUnder(root.resolve("pages")), "just the temporary file");
        batch.commit();
        assertArrayEquals(page(10), store.get(h));
        String blob = batch.putBlob(new byte[] {1, 2, 3});
        batch.close();
        assertArrayEquals(new byte[] {1, 2, 3}, store.getBlob(blob));
        assertEquals(1, filesUnder(root.resolve("pages")));
    }

    @Test
    void aBatchFromSeveralThreadsWithSmallFlushes() throws Exception {
        PageStore store = PageStore.open(root);
        int threads = 4, perThread = 300, distinct = 500;
        try (PageBatch batch = store.batch(8, 64); var pool = java.util.concurrent.Executors.newFixedThreadPool(threads)) {
            var results = new java.util.ArrayList<java.util.concurrent.Future<?>>();
            for (int t = 0; t < threads; t++) {
                int first = t * (distinct - perThread) / (threads - 1); // overlapping ranges
                results.add(pool.submit(() -> {
                    for (int i = first; i < first + perThread; i++) assertEquals(Sha256.hex(page(i)), batch.put(page(i)));
                }));
            }
            for (var r : results) r.get();
            batch.commit();
            assertEquals(distinct, batch.written());
            assertEquals(threads * perThread - distinct, batch.deduplicated());
        }
        assertEquals(distinct, filesUnder(root.resolve("pages")));
        for (int i = 0; i < distinct; i++) assertArrayEquals(page(i), store.get(Sha256.hex(page(i))));
    }

    @Test
    void theZeroPageHasAWellKnownHash() {
        PageStore store = PageStore.open(root);
        assertEquals(PageStore.ZERO_PAGE_HASH, store.put(new byte[PageStore.PAGE_SIZE]));
        assertEquals("ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7", PageStore.ZERO_PAGE_HASH);
    }

    @Test
    void aFlippedByteIsCorruptionNamingTheHash() throws IOException {
        PageStore store = PageStore.open(root);
        String hash = store.put(page(3));
        Path file = store.pagePath(hash);
        byte[] bytes = Files.readAllBytes(file);
        bytes[1000] ^= 0x01;
        Files.write(file, bytes);

        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> store.get(hash));
        assertTrue(e.getMessage().contains(hash), e.getMessage());
        assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        try (Arena arena = Arena.ofConfined()) {
            SnapshotCorruptException e2 = assertThrows(SnapshotCorruptException.class,
                    () -> store.readInto(hash, arena.allocate(PageStore.PAGE_SIZE)));
            assertTrue(e2.getMessage().contains(hash), e2.getMessage());
        }
    }

    @Test
    void aMissingPageIsCorruptionNamingTheHash() throws IOException {
        PageStore store = PageStore.open(root);
        String hash = store.put(page(4));
        Files.delete(store.pagePath(hash));
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> store.get(hash));
        assertEquals("page " + hash + " is missing (" + store.pagePath(hash) + ")", e.getMessage());
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(SnapshotCorruptException.class, () -> store.readInto(hash, arena.allocate(PageStore.PAGE_SIZE)));
        }
        // A hash never stored is reported the same way.
        String other = Sha256.hex(page(5));
        assertThrows(SnapshotCorruptException.class, () -> store.get(other));
        assertFalse(store.contains(other));
    }

    @Test
    void aTruncatedPageIsRewrittenByTheNextPutOfThatContent() throws IOException {
        PageStore store = PageStore.open(root);
        String hash = store.put(page(6));
        Files.write(store.pagePath(hash), new byte[10]);
        assertThrows(SnapshotCorruptException.class, () -> store.get(hash));
        store.put(page(6));
        assertArrayEquals(page(6), store.get(hash));
    }

    @Test
    void aFileOfTheRightSizeWithAFlippedByteIsReplacedByTheNextPut() throws IOException {
        PageStore store = PageStore.open(root);
        for (boolean batched : new boolean[] {false, true}) {
            byte[] content = page(batched ? 61 : 60);
            String hash = store.put(content);
            Path file = store.pagePath(hash);
            byte[] damaged = content.clone();
            damaged[4095] ^= 0x10;
            Files.write(file, damaged); // same size: a size check alone would keep it
            assertThrows(SnapshotCorruptException.class, () -> store.get(hash));
            if (batched) {
                try (PageBatch batch = store.batch()) {
                    assertEquals(hash, batch.put(content));
                    assertEquals(1, batch.written(), "the damaged file is not taken for the content");
                }
            } else {
                assertEquals(hash, store.put(content));
            }
            assertArrayEquals(content, store.get(hash));
        }
    }

    @Test
    void aPageThatChangesWhileItIsStoredIsStoredUnderTheHashOfWhatWasWritten() throws Exception {
        PageStore store = PageStore.open(root);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment guest = arena.allocate(PageStore.PAGE_SIZE);
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            // A "device" writing the page all the time, as DMA or a running vCPU would.
            Thread writer = Thread.ofPlatform().start(() -> {
                long n = 0;
                while (!done.get()) {
                    for (int off = 0; off < PageStore.PAGE_SIZE; off += 8) guest.set(ValueLayout.JAVA_LONG, off, n);
                    n++;
                }
            });
            java.util.List<String> hashes = new java.util.ArrayList<>();
            try (PageBatch batch = store.batch()) {
                for (int i = 0; i < 500; i++) {
                    hashes.add(store.put(guest));
                    hashes.add(batch.put(guest));
                }
            } finally {
                done.set(true);
                writer.join();
            }
            for (String h : hashes) store.get(h); // each file hashes to its name, or this throws
            assertTrue(new java.util.HashSet<>(hashes).size() > 1, "the page did change while it was stored");
        }
    }

    @Test
    void anOversizedFileIsRefusedBeforeItIsRead() throws IOException {
        PageStore store = PageStore.open(root);
        String blob = store.putBlob(new byte[] {1, 2, 3});
        try (var ch = java.nio.channels.FileChannel.open(store.blobPath(blob), java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {1}), PageStore.MAX_BLOB_BYTES); // sparse: 64 MiB + 1 on disk for free
        }
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> store.getBlob(blob));
        assertEquals("blob " + blob + " is corrupt: " + (PageStore.MAX_BLOB_BYTES + 1) + " bytes, more than the "
                + PageStore.MAX_BLOB_BYTES + " a blob may have (" + store.blobPath(blob) + ")", e.getMessage());
        String page = store.put(page(62));
        try (var ch = java.nio.channels.FileChannel.open(store.pagePath(page), java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {1}), 3L << 30);
        }
        e = assertThrows(SnapshotCorruptException.class, () -> store.get(page));
        assertTrue(e.getMessage().contains("more than the " + PageStore.MAX_PAGE_BYTES), e.getMessage());
    }

    @Test
    void leftoverTemporaryFilesAreIgnoredAndCleaned() throws IOException {
        PageStore store = PageStore.open(root);
        String hash = store.put(page(9));
        Path dir = store.pagePath(hash).getParent();
        // What a writer that died between create and rename leaves: a partial file, same directory.
        Path stale = dir.resolve(AtomicFiles.TEMP_PREFIX + hash.substring(2) + "-0123456789abcdef");
        Files.write(stale, new byte[100]);
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofHours(1))));
        Path fresh = dir.resolve(AtomicFiles.TEMP_PREFIX + "in-progress-elsewhere");
        Files.write(fresh, new byte[100]);

        assertArrayEquals(page(9), store.get(hash));  // ignored by reads
        assertEquals(hash, store.put(page(9)));       // and by dedup

        PageStore reopened = PageStore.open(root);     // open cleans stale ones only
        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(fresh));
        assertArrayEquals(page(9), reopened.get(hash));
        assertEquals(1, reopened.cleanTemporaries(Duration.ZERO));
        assertFalse(Files.exists(fresh));
        assertEquals(1, filesUnder(root.resolve("pages")));
    }

    @Test
    void blobsOfAnySize() {
        PageStore store = PageStore.open(root);
        for (int size : new int[] {0, 1, 4096, 100_000}) {
            byte[] blob = new byte[size];
            new Random(size).nextBytes(blob);
            String hash = store.putBlob(blob);
            assertEquals(Sha256.hex(blob), hash);
            assertArrayEquals(blob, store.getBlob(hash));
            assertTrue(store.containsBlob(hash));
            assertEquals(hash, store.putBlob(blob));
        }
        String h = store.putBlob(new byte[] {1, 2, 3});
        assertThrows(SnapshotCorruptException.class, () -> store.get(h), "blobs and pages are kept apart");
    }

    @Test
    void aMalformedHashIsAnArgumentError() {
        PageStore store = PageStore.open(root);
        assertThrows(IllegalArgumentException.class, () -> store.get("../../etc/passwd"));
        assertThrows(IllegalArgumentException.class, () -> store.get(PageStore.ZERO_PAGE_HASH.toUpperCase()));
    }

    @Test
    void aClosedBatchRefusesPuts() {
        PageStore store = PageStore.open(root);
        PageBatch batch = store.batch();
        batch.close();
        assertThrows(IllegalStateException.class, () -> batch.put(page(1)));
    }
}
