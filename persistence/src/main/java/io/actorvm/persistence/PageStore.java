package io.actorvm.persistence;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A content-addressed store of guest memory pages and state blobs under one root directory:
 * <pre>
 *   ROOT/pages/ab/cdef…   a page, named by the SHA-256 of its content (first two hex digits fan out)
 *   ROOT/blobs/ab/cdef…   a state blob (vCPU, VM, device state), addressed the same way
 * </pre>
 * Each distinct content is stored once: {@code put} of content already present costs a hash and a
 * {@code stat}. Writes are atomic and durable (temporary file in the same directory, write, fsync,
 * rename, fsync of the directory), so a crash leaves either no file or the whole file; leftover
 * temporary files are never read and are deleted when a store is opened ({@link #cleanTemporaries}).
 * Reads re-hash the content and throw {@link SnapshotCorruptException} naming the hash when it does
 * not match or the file is gone; a file larger than its area allows ({@link #MAX_PAGE_BYTES},
 * {@link #MAX_BLOB_BYTES}) is refused before anything is read into memory.
 *
 * <p>What is hashed is what is written: guest memory is copied first, then the copy is hashed and
 * stored, so a page that changes meanwhile (a device writing it, a running vCPU during live
 * migration) can never be stored under the hash of other content. A put of content whose file
 * already exists compares the file with the content (not only its size) and replaces a file that
 * differs, so damage is repaired by the next put of that content rather than kept.
 *
 * <p>All-zero pages are not special-cased in the store: the zero page is stored once like any other
 * page, under {@link #ZERO_PAGE_HASH}. A restore into fresh (zeroed) memory can skip pages with that
 * hash without reading anything ({@link SnapshotPages#restore} does).
 *
 * <p>Thread-safe: several threads may store and read at once (one {@link MessageDigest} per thread),
 * and several stores, in this or other processes, may share a directory. A single {@code put} on the
 * store is durable when it returns, at the price of two fsyncs (file and directory) one after the
 * other; for many pages at once use a {@link Batch}, which syncs them together (measured on this
 * project's hosts: 270 to 570 pages/s one by one, 3000 to 5000 pages/s in a batch).
 */
public final class PageStore {
    public static final int PAGE_SIZE = 4096;

    /** The SHA-256 of 4096 zero bytes. */
    public static final String ZERO_PAGE_HASH = Sha256.hex(new byte[PAGE_SIZE]);

    /** The largest page this store reads back: a 2 MiB huge page. */
    public static final long MAX_PAGE_BYTES = 2L << 20;

    /** The largest state blob this store reads back (vCPU, VM and device states are kilobytes). */
    public static final long MAX_BLOB_BYTES = 64L << 20;

    /** Temporary files older than this are taken to belong to a writer that died, and deleted on open. */
    public static final Duration STALE_TEMPORARY_AGE = Duration.ofMinutes(1);

    private final Path root;
    final Area pages;
    final Area blobs;

    /** Where one kind of content lives (pages, blobs), and which fan-out directories exist there. */
    static final class Area {
        final String noun;
        final Path dir;
        final long maxBytes;
        final Set<Path> knownFanOut = ConcurrentHashMap.newKeySet();

        Area(String noun, Path dir, long maxBytes) {
            this.noun = noun;
            this.dir = dir;
            this.maxBytes = maxBytes;
        }
    }

    private PageStore(Path root) {
        this.root = root;
        this.pages = new Area("page", root.resolve("pages"), MAX_PAGE_BYTES);
        this.blobs = new Area("blob", root.resolve("blobs"), MAX_BLOB_BYTES);
    }

    /**
     * Opens (creating if needed) the store under {@code root} and deletes temporary files older than
     * {@link #STALE_TEMPORARY_AGE} that an interrupted writer left behind.
     */
    public static PageStore open(Path root) {
        PageStore store = new PageStore(root.toAbsolutePath());
        try {
            Files.createDirectories(store.pages.dir);
            Files.createDirectories(store.blobs.dir);
            AtomicFiles.fsyncDirectory(store.root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the page store in " + root + ": " + e.getMessage(), e);
        }
        store.cleanTemporaries(STALE_TEMPORARY_AGE);
        return store;
    }

    public Path root() {
        return root;
    }

    // ---- pages ------------------------------------------------------------------------------

    /** Stores a page (any length, normally {@link #PAGE_SIZE}); returns its hash. Durable on return. */
    public String put(byte[] page) {
        return Sha256.toHex(store(pages, ByteBuffer.wrap(page)));
    }

    /** Stores the bytes of {@code page} (guest memory): copied once, and the copy hashed and written. */
    public String put(MemorySegment page) {
        return Sha256.toHex(store(pages, PageCopy.of(page)));
    }

    /** The page with this hash, verified. */
    public byte[] get(String hash) {
        return load(pages, hash);
    }

    /**
     * Reads the page with this hash straight into {@code target} (for example a guest page), then
     * verifies it. On {@link SnapshotCorruptException} the target holds unverified bytes.
     */
    public void readInto(String hash, MemorySegment target) {
        loadInto(pages, hash, target);
    }

    public boolean contains(String hash) {
        return Files.exists(pathOf(pages, Sha256.requireValid(hash)));
    }

    // ---- blobs ------------------------------------------------------------------------------

    /** Stores a state blob of any size; returns its hash. Durable on return. */
    public String putBlob(byte[] blob) {
        return Sha256.toHex(store(blobs, ByteBuffer.wrap(blob)));
    }

    /** The blob with this hash, verified. */
    public byte[] getBlob(String hash) {
        return load(blobs, hash);
    }

    public boolean containsBlob(String hash) {
        return Files.exists(pathOf(blobs, Sha256.requireValid(hash)));
    }

    // ---- batches ----------------------------------------------------------------------------

    /** Pages a batch holds in temporary files before it makes them durable on its own. */
    public static final int BATCH_FLUSH_PAGES = 16384;

    /** Threads a batch fsyncs with: concurrent fsyncs share journal commits (ext4, XFS). */
    public static final int SYNC_THREADS = 32;

    /** A batch of puts made durable together, for storing many pages at once (see {@link PageBatch}). */
    public PageBatch batch() {
        return new PageBatch(this, SYNC_THREADS, BATCH_FLUSH_PAGES);
    }

    PageBatch batch(int syncThreads, int flushThreshold) {
        return new PageBatch(this, syncThreads, flushThreshold);
    }

    // ---- maintenance ------------------------------------------------------------------------

    /**
     * Deletes temporary files (left by writers that died between creating and renaming them) whose
     * last modification is older than {@code olderThan}; returns how many. Lists every directory of
     * the store, so its cost grows with the number of stored pages.
     */
    public int cleanTemporaries(Duration olderThan) {
        FileTime cutoff = FileTime.from(Instant.now().minus(olderThan));
        int deleted = 0;
        for (Area area : new Area[] {pages, blobs}) {
            try (DirectoryStream<Path> fanOut = Files.newDirectoryStream(area.dir, Files::isDirectory)) {
                for (Path dir : fanOut) {
                    try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, AtomicFiles.TEMP_PREFIX + "*")) {
                        for (Path tmp : temps) {
                            try {
                                if (Files.getLastModifiedTime(tmp).compareTo(cutoff) <= 0 && Files.deleteIfExists(tmp)) deleted++;
                            } catch (NoSuchFileException gone) {
                                // renamed or deleted by its writer meanwhile
                            }
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot clean temporary files in " + area.dir + ": " + e.getMessage(), e);
            }
        }
        return deleted;
    }

    // ---- internals --------------------------------------------------------------------------

    Path pagePath(String hash) {
        return pathOf(pages, hash);
    }

    Path blobPath(String hash) {
        return pathOf(blobs, hash);
    }

    static Path pathOf(Area area, String hash) {
        return area.dir.resolve(hash.substring(0, 2)).resolve(hash.substring(2));
    }

    /**
     * Stores the buffer's remaining bytes unless present, durably; returns the raw digest. The
     * buffer must not change meanwhile: callers pass a copy of guest memory, never guest memory.
     */
    private byte[] store(Area area, ByteBuffer content) {
        byte[] digest = Sha256.digest(content);
        String hash = Sha256.toHex(digest);
        Path file = pathOf(area, hash);
        if (isStored(file, content)) return digest;
        Path dir = file.getParent();
        try {
            boolean newDir = ensureDirectory(area, dir);
            AtomicFiles.write(file, content);
            AtomicFiles.fsyncDirectory(dir);
            if (newDir) AtomicFiles.fsyncDirectory(area.dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store " + area.noun + " " + hash + " in " + area.dir + ": " + e.getMessage(), e);
        }
        return digest;
    }

    /**
     * True when {@code file} holds exactly {@code content}'s remaining bytes. The common absent case
     * costs one stat and no exception; a file of the right size is read and compared, because a
     * size says nothing about a flipped byte. A file that differs is damaged (a crash cannot leave
     * one: files are published complete) and the caller's put replaces it.
     */
    static boolean isStored(Path file, ByteBuffer content) {
        long size = content.remaining();
        File f = file.toFile();
        if (f.length() != size || (size == 0 && !f.exists())) return false;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer expected = content.duplicate();
            ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(size, 64 * 1024));
            while (expected.hasRemaining()) {
                chunk.clear().limit(Math.min(chunk.capacity(), expected.remaining()));
                while (chunk.hasRemaining()) {
                    if (ch.read(chunk) < 0) return false; // shrank meanwhile
                }
                chunk.flip();
                ByteBuffer part = expected.slice(expected.position(), chunk.remaining());
                if (chunk.mismatch(part) >= 0) return false;
                expected.position(expected.position() + chunk.limit());
            }
            return ch.read(ByteBuffer.allocate(1)) < 0; // and grew by nothing meanwhile
        } catch (NoSuchFileException gone) {
            return false;
        } catch (IOException e) {
            return false; // unreadable: the put replaces it, or says why it cannot
        }
    }

    /** Creates a fan-out directory if needed; true when this call created it. */
    static boolean ensureDirectory(Area area, Path dir) throws IOException {
        if (area.knownFanOut.contains(dir)) return false;
        boolean created = !Files.isDirectory(dir);
        Files.createDirectories(dir);
        area.knownFanOut.add(dir);
        return created;
    }

    private static byte[] load(Area area, String hash) {
        byte[] expected = Sha256.fromHex(hash);
        Path file = pathOf(area, hash);
        byte[] content;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > area.maxBytes) {
                throw new SnapshotCorruptException(area.noun + " " + hash + " is corrupt: " + size + " bytes, more than the "
                        + area.maxBytes + " a " + area.noun + " may have (" + file + ")");
            }
            content = new byte[(int) size];
            ByteBuffer b = ByteBuffer.wrap(content);
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new SnapshotCorruptException(area.noun + " " + hash + " is corrupt: it shrank while being read (" + file + ")");
                }
            }
        } catch (NoSuchFileException e) {
            throw missing(area, hash, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + area.noun + " " + hash + " (" + file + "): " + e.getMessage(), e);
        }
        byte[] actual = Sha256.digest(content);
        if (!MessageDigest.isEqual(expected, actual)) throw mismatch(area, hash, file, actual);
        return content;
    }

    private static void loadInto(Area area, String hash, MemorySegment target) {
        byte[] expected = Sha256.fromHex(hash);
        Path file = pathOf(area, hash);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != target.byteSize()) {
                throw new SnapshotCorruptException(area.noun + " " + hash + " is corrupt: " + size + " bytes where "
                        + target.byteSize() + " were expected (" + file + ")");
            }
            ByteBuffer b = target.asByteBuffer();
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new SnapshotCorruptException(area.noun + " " + hash + " is corrupt: it shrank while being read (" + file + ")");
                }
            }
        } catch (NoSuchFileException e) {
            throw missing(area, hash, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + area.noun + " " + hash + " (" + file + "): " + e.getMessage(), e);
        }
        byte[] actual = Sha256.digest(target);
        if (!MessageDigest.isEqual(expected, actual)) throw mismatch(area, hash, file, actual);
    }

    private static SnapshotCorruptException missing(Area area, String hash, Path file) {
        return new SnapshotCorruptException(area.noun + " " + hash + " is missing (" + file + ")");
    }

    private static SnapshotCorruptException mismatch(Area area, String hash, Path file, byte[] actual) {
        return new SnapshotCorruptException(area.noun + " " + hash + " is corrupt: its content hashes to "
                + Sha256.toHex(actual) + " (" + file + ")");
    }
}
