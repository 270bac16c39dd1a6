package io.actorvm.persistence;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.persistence.proto.BlobRef;
import io.actorvm.persistence.proto.MemoryLayout;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotFile;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A snapshot of the store as a pair of files, as Firecracker's snapshot API writes and reads them:
 * a state file ({@link SnapshotFile}: the manifest without pages, and the vCPU, VM and device
 * state blobs inline) and a raw memory file (the RAM regions of the manifest's layout end to end,
 * so byte {@code n} of region {@code k} is at the sum of the earlier regions' sizes plus
 * {@code n}). A full export writes every page, a diff export only the newest level's, the other
 * pages being holes, to be laid over the memory file of the snapshot before (as Firecracker's diff
 * snapshots are).
 *
 * <p>Import is the way back: the state file is read with a size limit and every blob checked
 * against its hash; the memory file must be exactly as large as the layout says; its pages go into
 * the store and a full manifest under a new id is written last, so a failed import leaves no
 * snapshot behind (only unreferenced pages, which the store tolerates).
 */
public final class SnapshotFiles {
    /** The only state-file format version this build reads and writes. */
    public static final int FORMAT_VERSION = 1;

    /** What a state file starts with. */
    static final byte[] MAGIC = "AVMSTATE\n".getBytes(StandardCharsets.US_ASCII);

    /** The largest state file read: vCPU, VM and device states are kilobytes; a blob is at most {@link PageStore#MAX_BLOB_BYTES}. */
    public static final long MAX_STATE_BYTES = 256L << 20;

    /** The largest guest RAM a memory file may describe (a sanity bound against a hostile layout). */
    public static final long MAX_MEMORY_BYTES = 1L << 40;

    private static final int PAGE = PageStore.PAGE_SIZE;
    private static final int CHUNK_PAGES = 256;

    private SnapshotFiles() {
    }

    /** What an export wrote. */
    public record Exported(long memoryBytes, long pagesWritten) {}

    /**
     * Writes snapshot {@code id} of the store as {@code statePath} and {@code memoryPath}, each
     * atomically (a temporary file beside it, renamed when complete). With {@code diff}, only the
     * pages of the snapshot's own level (all of them for a full snapshot) are written.
     */
    public static Exported export(PageStore pages, SnapshotManifests manifests, String id, Path statePath, Path memoryPath, boolean diff) {
        List<SnapshotManifest> chain = manifests.chain(id);
        SnapshotManifest leaf = chain.getLast();
        long[][] regions = regions(leaf.getMemory(), id);
        long total = Arrays.stream(regions).mapToLong(r -> r[1]).sum();
        byte[] zero = Sha256.fromHex(PageStore.ZERO_PAGE_HASH);
        long[] written = {0};
        Path memTmp = temporaryBeside(memoryPath);
        try (RandomAccessFile raf = new RandomAccessFile(memTmp.toFile(), "rw")) {
            raf.setLength(total); // sparse: pages never written read as zeros
            FileChannel ch = raf.getChannel();
            String base = chain.getFirst().getMemoryFile();
            if (!base.isEmpty() && (!diff || chain.size() == 1)) {
                // The oldest level is a mapped memory file (a loaded snapshot): its pages first, the levels above over them.
                try (FileChannel in = FileChannel.open(Path.of(base), StandardOpenOption.READ)) {
                    if (in.size() != total) throw new SnapshotCorruptException("memory file " + base + " of snapshot " + id + " is not " + total + " bytes");
                    for (long done = 0; done < total; ) done += in.transferTo(done, total - done, ch.position(done));
                }
            }
            SnapshotManifests.PageVisitor write = (gpn, sha256) -> {
                if (Arrays.equals(sha256, zero)) return;
                long offset = fileOffset(regions, gpn * PAGE, id);
                try {
                    ByteBuffer b = ByteBuffer.wrap(pages.get(Sha256.toHex(sha256)));
                    while (b.hasRemaining()) ch.write(b, offset + b.position());
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot write the memory file " + memoryPath + ": " + e.getMessage(), e);
                }
                written[0]++;
            };
            if (diff) {
                SnapshotManifests.forEachEffectivePage(List.of(leaf), write);
            } else {
                SnapshotManifests.forEachEffectivePage(chain, write);
            }
            ch.force(false);
        } catch (IOException e) {
            AtomicFiles.deleteQuietly(memTmp, e);
            throw new UncheckedIOException("cannot write the memory file " + memoryPath + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            AtomicFiles.deleteQuietly(memTmp, e);
            throw e;
        }
        SnapshotFile.Builder file = SnapshotFile.newBuilder().setFormatVersion(FORMAT_VERSION).setDiff(diff && leaf.getKind() != SnapshotKind.FULL)
                .setManifest(leaf.toBuilder().clearPages().clearParentId().clearMemoryFile().setKind(SnapshotKind.FULL));
        Map<String, Boolean> added = new HashMap<>();
        for (BlobRef b : blobRefs(leaf)) {
            if (added.putIfAbsent(b.getSha256(), true) == null) {
                file.addBlobs(SnapshotFile.Blob.newBuilder().setSha256(b.getSha256()).setContent(ByteString.copyFrom(pages.getBlob(b.getSha256()))));
            }
        }
        byte[] body = file.build().toByteArray();
        ByteBuffer content = ByteBuffer.allocate(MAGIC.length + body.length).put(MAGIC).put(body).flip();
        try {
            AtomicFiles.publish(memTmp, memoryPath);
            AtomicFiles.write(statePath.toAbsolutePath(), content);
        } catch (IOException e) {
            AtomicFiles.deleteQuietly(memTmp, e);
            throw new UncheckedIOException("cannot write the snapshot file " + statePath + ": " + e.getMessage(), e);
        }
        return new Exported(total, written[0]);
    }

    /**
     * Reads {@code statePath} and {@code memoryPath} into the store as a full snapshot named
     * {@code newId}, and returns its manifest (written last). A file that is not such a snapshot,
     * is damaged, or does not match the other is a {@link SnapshotCorruptException} (or
     * {@link SnapshotNotFoundException} when missing) with a one-line message naming it.
     */
    public static SnapshotManifest importFiles(PageStore pages, SnapshotManifests manifests, Path statePath, Path memoryPath, String newId) {
        return importFiles(pages, manifests, statePath, memoryPath, newId, false);
    }

    /**
     * As {@link #importFiles(PageStore, SnapshotManifests, Path, Path, String)}; with
     * {@code mapMemory} the pages are not copied into the store: the manifest names the memory file,
     * which a restore maps copy-on-write (and which must then stay as it is while such a VM runs).
     */
    public static SnapshotManifest importFiles(PageStore pages, SnapshotManifests manifests, Path statePath, Path memoryPath, String newId,
                                               boolean mapMemory) {
        SnapshotFile file = readState(statePath);
        SnapshotManifest manifest = file.getManifest();
        long[][] regions = regions(manifest.getMemory(), statePath.toString());
        long total = Arrays.stream(regions).mapToLong(r -> r[1]).sum();
        Map<String, ByteString> blobs = new HashMap<>();
        for (SnapshotFile.Blob b : file.getBlobsList()) {
            if (!Sha256.isValid(b.getSha256()) || !Sha256.hex(b.getContent().toByteArray()).equals(b.getSha256())) {
                throw new SnapshotCorruptException("snapshot file " + statePath + ": a state blob does not match its hash " + b.getSha256());
            }
            blobs.put(b.getSha256(), b.getContent());
        }
        for (BlobRef ref : blobRefs(manifest)) {
            if (!blobs.containsKey(ref.getSha256())) {
                throw new SnapshotCorruptException("snapshot file " + statePath + " lacks the state '" + ref.getName() + "'");
            }
        }
        long size;
        try {
            size = Files.size(memoryPath);
        } catch (NoSuchFileException e) {
            throw new SnapshotNotFoundException("memory file " + memoryPath + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the memory file " + memoryPath + ": " + e.getMessage(), e);
        }
        if (size != total) {
            throw new SnapshotCorruptException("memory file " + memoryPath + " holds " + size + " bytes; snapshot file " + statePath
                    + " describes " + total + " bytes of RAM");
        }
        SnapshotManifest.Builder out = manifest.toBuilder().clearPages().setSnapshotId(newId).clearParentId().setKind(SnapshotKind.FULL)
                .setFormatVersion(SnapshotManifests.FORMAT_VERSION).clearMemoryFile();
        if (mapMemory) {
            try (PageBatch batch = pages.batch()) {
                for (var blob : blobs.values()) batch.putBlob(blob.toByteArray());
                batch.commit();
            }
            SnapshotManifest written = out.setMemoryFile(memoryPath.toAbsolutePath().toString()).build();
            manifests.write(written);
            return written;
        }
        try (PageBatch batch = pages.batch(); FileChannel ch = FileChannel.open(memoryPath, StandardOpenOption.READ)) {
            ByteString zeroHash = ByteString.copyFrom(Sha256.fromHex(batch.put(new byte[PAGE])));
            byte[] chunk = new byte[CHUNK_PAGES * PAGE];
            byte[] zeroPage = new byte[PAGE];
            for (long[] r : regions) {
                long firstPage = r[0] / PAGE;
                for (long done = 0; done < r[1]; ) {
                    int len = (int) Math.min(chunk.length, r[1] - done);
                    ByteBuffer b = ByteBuffer.wrap(chunk, 0, len);
                    long at = r[2] + done;
                    while (b.hasRemaining()) {
                        if (ch.read(b, at + b.position()) < 0) throw new SnapshotCorruptException("memory file " + memoryPath + " ended early");
                    }
                    for (int p = 0; p < len / PAGE; p++) {
                        long gpn = firstPage + done / PAGE + p;
                        boolean isZero = Arrays.equals(chunk, p * PAGE, (p + 1) * PAGE, zeroPage, 0, PAGE);
                        ByteString hash = isZero ? zeroHash
                                : ByteString.copyFrom(batch.putDigest(MemorySegment.ofArray(chunk).asSlice((long) p * PAGE, PAGE)));
                        out.addPages(PageRef.newBuilder().setGuestPageNumber(gpn).setSha256(hash));
                    }
                    done += len;
                }
            }
            for (var blob : blobs.values()) batch.putBlob(blob.toByteArray());
            batch.commit();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the memory file " + memoryPath + ": " + e.getMessage(), e);
        }
        SnapshotManifest written = out.build();
        manifests.write(written);
        return written;
    }

    /** Reads and checks a state file: size, magic, format version, that it parses. */
    static SnapshotFile readState(Path statePath) {
        byte[] bytes;
        try {
            long size = Files.size(statePath);
            if (size > MAX_STATE_BYTES) {
                throw new SnapshotCorruptException("snapshot file " + statePath + " is " + size + " bytes, more than a snapshot file holds ("
                        + MAX_STATE_BYTES + ")");
            }
            bytes = Files.readAllBytes(statePath);
        } catch (NoSuchFileException e) {
            throw new SnapshotNotFoundException("snapshot file " + statePath + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the snapshot file " + statePath + ": " + e.getMessage(), e);
        }
        if (bytes.length < MAGIC.length || !Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new SnapshotCorruptException("snapshot file " + statePath + " is not an actorvm snapshot file");
        }
        SnapshotFile file;
        try {
            file = SnapshotFile.parseFrom(ByteBuffer.wrap(bytes, MAGIC.length, bytes.length - MAGIC.length));
        } catch (InvalidProtocolBufferException e) {
            throw new SnapshotCorruptException("snapshot file " + statePath + " is damaged: it does not parse");
        }
        if (file.getFormatVersion() != FORMAT_VERSION) {
            throw new IncompatibleSnapshotException("snapshot file " + statePath + " has format version " + file.getFormatVersion()
                    + "; this build reads version " + FORMAT_VERSION);
        }
        return file;
    }

    private static List<BlobRef> blobRefs(SnapshotManifest m) {
        List<BlobRef> refs = new java.util.ArrayList<>(m.getVcpusList());
        if (m.hasVmState()) refs.add(m.getVmState());
        refs.addAll(m.getDevicesList());
        return refs;
    }

    /** The layout's regions as {guest address, size, offset in the memory file}, checked. */
    private static long[][] regions(MemoryLayout layout, String what) {
        if (layout.getPageSize() != PAGE) {
            throw new SnapshotCorruptException("snapshot " + what + " has pages of " + layout.getPageSize() + " bytes, not " + PAGE);
        }
        long[][] out = new long[layout.getRegionsCount()][];
        long offset = 0;
        for (int i = 0; i < out.length; i++) {
            MemoryLayout.Region r = layout.getRegions(i);
            if (r.getGuestAddress() % PAGE != 0 || r.getSize() % PAGE != 0 || r.getSize() <= 0 || r.getSize() > MAX_MEMORY_BYTES
                    || offset + r.getSize() > MAX_MEMORY_BYTES || r.getGuestAddress() < 0) {
                throw new SnapshotCorruptException("snapshot " + what + " has a malformed RAM region");
            }
            out[i] = new long[] {r.getGuestAddress(), r.getSize(), offset};
            offset += r.getSize();
        }
        if (out.length == 0) throw new SnapshotCorruptException("snapshot " + what + " has no RAM");
        return out;
    }

    private static long fileOffset(long[][] regions, long gpa, String id) {
        for (long[] r : regions) {
            if (gpa >= r[0] && gpa - r[0] < r[1]) return r[2] + (gpa - r[0]);
        }
        throw new SnapshotCorruptException("snapshot " + id + ": guest address 0x" + Long.toHexString(gpa) + " lies outside its RAM");
    }

    private static Path temporaryBeside(Path target) {
        Path abs = target.toAbsolutePath();
        return abs.resolveSibling(AtomicFiles.TEMP_PREFIX + abs.getFileName() + "-" + Long.toHexString(System.nanoTime()));
    }
}
