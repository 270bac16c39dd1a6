package io.actorvm.persistence;

import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Snapshot manifests in {@code ROOT/snapshots/<id>.manifest}, one immutable file per snapshot.
 *
 * <p>File format: a 48-byte header, then the {@link SnapshotManifest} protobuf:
 * <pre>
 *   0  8   magic "AVMSNAP\n"
 *   8  8   payload length, big-endian
 *   16 32  SHA-256 of the payload
 *   48 …   payload (SnapshotManifest, protobuf binary)
 * </pre>
 * The checksum is embedded rather than kept in a side file so that one atomic rename publishes the
 * manifest and its checksum together (temporary file, fsync, rename, fsync of the directory): no
 * window where one exists without the other. A torn or damaged file is a one-line
 * {@link SnapshotCorruptException}; a manifest of another {@link #FORMAT_VERSION} is an
 * {@link IncompatibleSnapshotException}.
 *
 * <p>Snapshot ids are file names: letters, digits, {@code . _ -}, not starting with a dot, at most
 * 200 characters. Thread-safe; one writer per id (ids are not reused).
 */
public final class SnapshotManifests {
    /** The only manifest format version this build reads and writes. */
    public static final int FORMAT_VERSION = 1;

    /**
     * The largest manifest this build reads: about 13 million page references, a full snapshot of a
     * 50 GiB guest. A bigger file is refused with a one-line error before it is read into memory.
     */
    public static final long MAX_MANIFEST_BYTES = 512L << 20;

    static final String SUFFIX = ".manifest";
    static final byte[] MAGIC = "AVMSNAP\n".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_BYTES = MAGIC.length + Long.BYTES + Sha256.BYTES;
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}");

    private final Path dir;

    private SnapshotManifests(Path dir) {
        this.dir = dir;
    }

    /** Opens (creating if needed) {@code root/snapshots}. */
    public static SnapshotManifests open(Path root) {
        Path dir = root.toAbsolutePath().resolve("snapshots");
        try {
            Files.createDirectories(dir);
            AtomicFiles.fsyncDirectory(dir.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the snapshot directory " + dir + ": " + e.getMessage(), e);
        }
        return new SnapshotManifests(dir);
    }

    public Path directory() {
        return dir;
    }

    public Path pathOf(String id) {
        return dir.resolve(requireValidId(id) + SUFFIX);
    }

    public static boolean isValidId(String id) {
        return id != null && ID.matcher(id).matches();
    }

    /**
     * Writes a manifest durably and atomically; returns its path. A format version of 0 is filled in
     * with {@link #FORMAT_VERSION}. Refuses an existing id, a missing kind, and an incremental
     * snapshot without a parent.
     */
    public Path write(SnapshotManifest manifest) {
        String id = requireValidId(manifest.getSnapshotId());
        if (manifest.getFormatVersion() == 0) {
            manifest = manifest.toBuilder().setFormatVersion(FORMAT_VERSION).build();
        } else if (manifest.getFormatVersion() != FORMAT_VERSION) {
            throw new IllegalArgumentException("snapshot " + id + ": this build writes manifest format version "
                    + FORMAT_VERSION + ", not " + manifest.getFormatVersion());
        }
        switch (manifest.getKind()) {
            case FULL -> { }
            case INCREMENTAL -> {
                if (manifest.getParentId().isEmpty()) {
                    throw new IllegalArgumentException("incremental snapshot " + id + " needs a parent");
                }
            }
            default -> throw new IllegalArgumentException("snapshot " + id + " has no kind (FULL or INCREMENTAL)");
        }
        if (!manifest.getMemoryFile().isEmpty()) {
            if (manifest.getKind() != SnapshotKind.FULL || manifest.getPagesCount() > 0 || !Path.of(manifest.getMemoryFile()).isAbsolute()) {
                throw new IllegalArgumentException("snapshot " + id + ": a memory file is the whole RAM of a full snapshot with no pages, by absolute path");
            }
        }
        if (!manifest.getParentId().isEmpty()) {
            requireValidId(manifest.getParentId());
            if (manifest.getParentId().equals(id)) throw new IllegalArgumentException("snapshot " + id + " cannot be its own parent");
        }
        Path target = pathOf(id);
        if (Files.exists(target)) throw new IllegalStateException("snapshot " + id + " already exists (" + target + ")");
        try {
            AtomicFiles.write(target, ByteBuffer.wrap(encode(manifest)));
            AtomicFiles.fsyncDirectory(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write snapshot " + id + " (" + target + "): " + e.getMessage(), e);
        }
        return target;
    }

    /** The manifest with this id, verified. */
    public SnapshotManifest read(String id) {
        Path file = pathOf(id);
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > MAX_MANIFEST_BYTES) {
                throw new SnapshotCorruptException("snapshot " + id + ": manifest is " + size + " bytes, more than the "
                        + MAX_MANIFEST_BYTES + " this build reads (" + file + ")");
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new SnapshotNotFoundException("no snapshot " + id + " in " + dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read snapshot " + id + " (" + file + "): " + e.getMessage(), e);
        }
        return decode(id, bytes);
    }

    public boolean exists(String id) {
        return Files.exists(pathOf(id));
    }

    /**
     * Deletes snapshot {@code id}'s manifest, durably (the directory is fsynced); false when there
     * was none. What the snapshot's memory is kept in is the caller's to delete, after this.
     */
    public boolean delete(String id) {
        Path f = pathOf(id);
        try {
            boolean deleted = Files.deleteIfExists(f);
            if (deleted) AtomicFiles.fsyncDirectory(dir);
            return deleted;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the manifest " + f + ": " + e.getMessage(), e);
        }
    }

    /** The ids of every manifest, sorted; temporary files and other names are ignored. */
    public List<String> list() {
        List<String> ids = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                String id = name.substring(0, name.length() - SUFFIX.length());
                if (isValidId(id)) ids.add(id);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list snapshots in " + dir + ": " + e.getMessage(), e);
        }
        ids.sort(null);
        return ids;
    }

    /**
     * The manifests needed to restore {@code id}: its full ancestor first, {@code id} last. Every
     * level is read and verified; a missing parent, a cycle, an incremental snapshot without a
     * parent or a level whose memory layout differs from its child's is a
     * {@link SnapshotCorruptException}.
     */
    public List<SnapshotManifest> chain(String id) {
        List<SnapshotManifest> levels = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        String current = id;
        SnapshotManifest child = null;
        while (true) {
            if (!seen.add(current)) {
                throw new SnapshotCorruptException("snapshot " + id + ": its parent chain has a cycle at " + current);
            }
            SnapshotManifest level;
            try {
                level = read(current);
            } catch (SnapshotNotFoundException e) {
                if (child == null) throw e;
                throw new SnapshotCorruptException("snapshot " + id + ": parent " + current + " of " + child.getSnapshotId() + " is missing");
            }
            if (child != null && !level.getMemory().equals(child.getMemory())) {
                throw new SnapshotCorruptException("snapshot " + id + ": the memory layout of " + current
                        + " differs from that of its child " + child.getSnapshotId());
            }
            levels.add(level);
            if (level.getKind() == SnapshotKind.FULL) break;
            if (level.getKind() != SnapshotKind.INCREMENTAL) {
                throw new SnapshotCorruptException("snapshot " + id + ": level " + current + " has no kind (FULL or INCREMENTAL)");
            }
            if (level.getParentId().isEmpty()) {
                throw new SnapshotCorruptException("snapshot " + id + ": incremental level " + current + " has no parent");
            }
            child = level;
            current = level.getParentId();
        }
        return List.copyOf(levels.reversed());
    }

    /** Receives one effective page of a chain. */
    @FunctionalInterface
    public interface PageVisitor {
        void page(long guestPageNumber, byte[] sha256);
    }

    /**
     * Calls {@code visitor} once per guest page present anywhere in {@code chain} (as {@link #chain}
     * returns it: oldest first), with the hash from the newest level that lists it. Returns the
     * number of pages visited. Uses a bit set over page numbers, not a map: a 4 GiB guest costs
     * well under a megabyte. A page number beyond the newest level's memory layout is a
     * {@link SnapshotCorruptException}, checked before it can size the bit set.
     */
    public static long forEachEffectivePage(List<SnapshotManifest> chain, PageVisitor visitor) {
        if (chain.isEmpty()) return 0;
        long pageLimit = pageLimit(chain.getLast());
        BitSet seen = new BitSet();
        long visited = 0;
        for (SnapshotManifest level : chain.reversed()) {
            for (PageRef ref : level.getPagesList()) {
                long gpn = ref.getGuestPageNumber();
                if (gpn < 0 || gpn >= pageLimit) {
                    throw new SnapshotCorruptException("snapshot " + level.getSnapshotId() + ": guest page number " + gpn
                            + " lies beyond its memory layout");
                }
                if (ref.getSha256().size() != Sha256.BYTES) {
                    throw new SnapshotCorruptException("snapshot " + level.getSnapshotId() + ": page " + gpn + " has a "
                            + ref.getSha256().size() + "-byte hash");
                }
                if (seen.get((int) gpn)) continue;
                seen.set((int) gpn);
                visitor.page(gpn, ref.getSha256().toByteArray());
                visited++;
            }
        }
        return visited;
    }

    /**
     * One past the highest guest page number {@code leaf}'s memory layout covers, at most
     * {@code Integer.MAX_VALUE} (8 TiB of 4 KiB pages); a layout with a page size other than
     * {@link PageStore#PAGE_SIZE}, or one that overflows, is corrupt.
     */
    static long pageLimit(SnapshotManifest leaf) {
        var layout = leaf.getMemory();
        if (layout.getPageSize() != PageStore.PAGE_SIZE) {
            throw new SnapshotCorruptException("snapshot " + leaf.getSnapshotId() + ": pages of " + layout.getPageSize()
                    + " bytes (this build stores " + PageStore.PAGE_SIZE + ")");
        }
        long limit = 0;
        for (var r : layout.getRegionsList()) {
            long start = r.getGuestAddress(), size = r.getSize();
            if (start < 0 || size < 0 || start + size < start) {
                throw new SnapshotCorruptException("snapshot " + leaf.getSnapshotId() + ": a memory region overflows the address space");
            }
            limit = Math.max(limit, Math.ceilDiv(start + size, PageStore.PAGE_SIZE));
        }
        return Math.min(limit, Integer.MAX_VALUE);
    }

    // ---- encoding ---------------------------------------------------------------------------

    /** The file content for a manifest (header and payload); no validation. */
    static byte[] encode(SnapshotManifest manifest) {
        return encode(manifest.toByteArray());
    }

    /** The file content for a payload: header (magic, length, checksum) and the payload. */
    static byte[] encode(byte[] payload) {
        return ByteBuffer.allocate(HEADER_BYTES + payload.length)
                .put(MAGIC)
                .putLong(payload.length)
                .put(Sha256.digest(payload))
                .put(payload)
                .array();
    }

    static SnapshotManifest decode(String id, byte[] bytes) {
        if (bytes.length < HEADER_BYTES) {
            throw new SnapshotCorruptException("snapshot " + id + ": manifest is torn (" + bytes.length
                    + " bytes, shorter than its " + HEADER_BYTES + "-byte header)");
        }
        if (!Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new SnapshotCorruptException("snapshot " + id + ": not an actorvm snapshot manifest (bad magic)");
        }
        ByteBuffer header = ByteBuffer.wrap(bytes, MAGIC.length, Long.BYTES + Sha256.BYTES);
        long declared = header.getLong();
        long actual = bytes.length - HEADER_BYTES;
        if (declared != actual) {
            throw new SnapshotCorruptException("snapshot " + id + ": manifest is torn (" + actual + " of "
                    + declared + " payload bytes)");
        }
        byte[] expectedDigest = new byte[Sha256.BYTES];
        header.get(expectedDigest);
        byte[] payload = Arrays.copyOfRange(bytes, HEADER_BYTES, bytes.length);
        byte[] digest = Sha256.digest(payload);
        if (!MessageDigest.isEqual(expectedDigest, digest)) {
            throw new SnapshotCorruptException("snapshot " + id + ": manifest checksum mismatch (content hashes to "
                    + Sha256.toHex(digest) + ", header says " + Sha256.toHex(expectedDigest) + ")");
        }
        SnapshotManifest manifest;
        try {
            manifest = SnapshotManifest.parseFrom(payload);
        } catch (InvalidProtocolBufferException e) {
            throw new SnapshotCorruptException("snapshot " + id + ": manifest does not parse: " + e.getMessage(), e);
        }
        if (manifest.getFormatVersion() != FORMAT_VERSION) {
            throw new IncompatibleSnapshotException("snapshot " + id + " has manifest format version "
                    + manifest.getFormatVersion() + "; this build reads version " + FORMAT_VERSION);
        }
        if (!manifest.getSnapshotId().equals(id)) {
            throw new SnapshotCorruptException("snapshot " + id + ": the manifest file holds snapshot '"
                    + manifest.getSnapshotId() + "'");
        }
        return manifest;
    }

    private static String requireValidId(String id) {
        if (!isValidId(id)) {
            throw new IllegalArgumentException("bad snapshot id '" + id + "' (letters, digits, . _ -; not starting with a dot; at most 200)");
        }
        return id;
    }
}
