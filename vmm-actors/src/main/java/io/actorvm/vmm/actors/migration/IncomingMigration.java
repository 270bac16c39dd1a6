package io.actorvm.vmm.actors.migration;

import io.actorvm.persistence.PageBatch;
import io.actorvm.persistence.Sha256;
import io.actorvm.persistence.SnapshotManifests;
import io.actorvm.persistence.proto.BlobRef;
import io.actorvm.persistence.proto.MemoryLayout;
import io.actorvm.persistence.proto.MigrationBlob;
import io.actorvm.persistence.proto.MigrationFrame;
import io.actorvm.persistence.proto.MigrationHello;
import io.actorvm.persistence.proto.MigrationPages;
import io.actorvm.persistence.proto.MigrationState;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.vmm.actors.PreparedMachine;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The target side of one live migration: the frames of one connection, checked, into a memory
 * file (the guest's RAM regions end to end, sparse until written) and, at the end, a snapshot in
 * this node's store whose RAM is that file ({@code memory_file}: mapped copy-on-write on restore).
 * No guest runs here: the VM's entity restores the snapshot once the source has committed the move,
 * onto the machine built here at the hello ({@link PreparedMachine}) while the pages arrive, and
 * loaded with the VM's state while {@link #finish} makes the snapshot durable.
 * A migration that does not end with its state ({@link #finish}) leaves nothing behind ({@link #discard}).
 */
public final class IncomingMigration {
    /** The most RAM a migration may bring (the file is sparse, but its length is what mapping it needs). */
    static final long MAX_RAM = 1L << 40;
    private static final int PAGE = PreCopy.PAGE;
    /** The suffix of a memory file still being received. */
    static final String INCOMING = ".incoming";
    /** The suffix of a received memory file, named by its snapshot's id. */
    static final String MEMORY = ".mem";

    private final SnapshotStore store;
    private final Path dir;
    private MigrationHello hello;
    private long[][] regions; // {first guest page, pages, file offset}
    private Path file;
    private FileChannel channel;
    private MigrationState state;
    /** The machine built while the pages arrive (null: none could be, or it is kept or closed now). */
    private PreparedMachine prepared;
    private long pagesReceived;
    private int round;
    /** Bytes written since the memory file was last forced to disk. */
    private long unforced;
    static final long FORCE_EVERY = 16L << 20;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(IncomingMigration.class);

    public IncomingMigration(SnapshotStore store) {
        this.store = store;
        this.dir = store.dataDir().resolve("migrations");
    }

    /** Takes one frame; a frame out of order or out of bounds is a {@link MigrationException}. */
    public synchronized void accept(MigrationFrame frame) {
        switch (frame.getFrameCase()) {
            case HELLO -> hello(frame.getHello());
            case PAGES -> pages(frame.getPages());
            case STATE -> {
                requireHello();
                if (state != null) throw new MigrationException("a second state frame");
                state = frame.getState();
            }
            case FRAME_NOT_SET -> throw new MigrationException("an empty frame");
        }
    }

    private void hello(MigrationHello h) {
        if (hello != null) throw new MigrationException("a second hello");
        if (!h.getVmName().matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) throw new MigrationException("no VM name in the hello");
        MemoryLayout layout = h.getMemory();
        if (layout.getPageSize() != PAGE || layout.getRegionsCount() == 0 || layout.getRegionsCount() > 16) {
            throw new MigrationException("a memory layout of " + layout.getRegionsCount() + " regions of " + layout.getPageSize() + "-byte pages");
        }
        regions = new long[layout.getRegionsCount()][];
        long offset = 0;
        for (int i = 0; i < regions.length; i++) {
            MemoryLayout.Region r = layout.getRegions(i);
            if (r.getGuestAddress() % PAGE != 0 || r.getSize() % PAGE != 0 || r.getSize() == 0 || r.getSize() > MAX_RAM - offset) {
                throw new MigrationException("RAM region " + i + " at " + r.getGuestAddress() + " of " + r.getSize() + " bytes");
            }
            regions[i] = new long[] {r.getGuestAddress() / PAGE, r.getSize() / PAGE, offset};
            offset += r.getSize();
        }
        hello = h;
        try {
            Files.createDirectories(dir);
            file = Files.createTempFile(dir, h.getVmName() + "-", INCOMING);
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            // Held while this migration lives, so that a sweep (by any node sharing the directory)
            // tells this file from one a dead receiver left.
            if (channel.tryLock() == null) throw new IOException("a new file is locked already: " + file);
            channel.truncate(0);
            channel.write(ByteBuffer.allocate(1), offset - 1); // the length mapping needs; the rest stays a hole
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the memory file in " + dir + ": " + e.getMessage(), e);
        }
        if (h.getVcpus() > 0) {
            try {
                prepared = PreparedMachine.build(file, layout, h.getVcpus());
            } catch (RuntimeException e) {
                // Not needed, only faster: the restore builds the machine then, in the downtime.
                LOG.info("VM {}: its machine is not built ahead of the move: {}", h.getVmName(), e.getMessage());
            }
        }
    }

    private void pages(MigrationPages p) {
        requireHello();
        if (state != null) throw new MigrationException("pages after the state");
        int n = p.getPageNumbersCount();
        if (p.getRound() < round) throw new MigrationException("round " + p.getRound() + " after round " + round);
        if (p.getData().size() != (long) n * PAGE) {
            throw new MigrationException("a frame of " + n + " pages carries " + p.getData().size() + " bytes");
        }
        try {
            round = Math.max(round, p.getRound());
            if (unforced >= FORCE_EVERY) {
                // Made durable as it comes, while the guest still runs: the fsync of finish (in the
                // downtime) has only the last few MiB left, not the whole first round.
                channel.force(false);
                unforced = 0;
            }
            ByteBuffer data = p.getData().asReadOnlyByteBuffer();
            for (int i = 0; i < n; i++) {
                ByteBuffer page = data.slice(i * PAGE, PAGE);
                write(page, offsetOf(p.getPageNumbers(i)));
            }
            for (long gpn : p.getZeroPagesList()) write(ByteBuffer.allocate(PAGE), offsetOf(gpn));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the memory file " + file + ": " + e.getMessage(), e);
        }
        pagesReceived += n + p.getZeroPagesCount();
        unforced += (long) (n + p.getZeroPagesCount()) * PAGE;
    }

    private void write(ByteBuffer page, long at) throws IOException {
        while (page.hasRemaining()) channel.write(page, at + page.position());
    }

    private long offsetOf(long gpn) {
        for (long[] r : regions) {
            if (gpn >= r[0] && gpn - r[0] < r[1]) return r[2] + (gpn - r[0]) * PAGE;
        }
        throw new MigrationException("page " + gpn + " is not guest RAM");
    }

    private void requireHello() {
        if (hello == null) throw new MigrationException("frames before the hello");
    }

    /**
     * The source has sent everything: the memory file is made durable, the state blobs stored, and
     * the snapshot's manifest written last. Returns the snapshot id.
     */
    public synchronized String finish() {
        requireHello();
        if (state == null) throw new MigrationException("the source ended before the VM's state (" + pagesReceived + " pages received)");
        SnapshotManifest sent = state.getManifest();
        if (!sent.getVmName().equals(hello.getVmName()) || !sent.getMemory().equals(hello.getMemory())) {
            throw new MigrationException("the state is of another VM or memory layout than the hello's");
        }
        Map<String, byte[]> blobs = new HashMap<>();
        for (MigrationBlob b : state.getBlobsList()) {
            byte[] content = b.getContent().toByteArray();
            if (!Sha256.hex(content).equals(b.getSha256())) throw new MigrationException("state blob " + b.getSha256() + " does not match its hash");
            blobs.put(b.getSha256(), content);
        }
        java.util.List<BlobRef> refs = new java.util.ArrayList<>(sent.getVcpusList());
        refs.add(sent.getVmState());
        refs.addAll(sent.getDevicesList());
        if (sent.getVcpusCount() == 0) throw new MigrationException("the state has no vCPU");
        for (BlobRef r : refs) if (!blobs.containsKey(r.getSha256())) throw new MigrationException("the state lacks " + r.getName());
        String id = VmSnapshots.newId();
        Path memory = dir.resolve(id + MEMORY);
        SnapshotManifest manifest = sent.toBuilder().setSnapshotId(id).clearParentId().setKind(SnapshotKind.FULL).clearPages()
                .setCreatedMillis(System.currentTimeMillis()).setMemoryFile(memory.toAbsolutePath().toString()).build();
        // The state is whole and checked: the machine built at the hello takes it in while the files are forced below.
        if (prepared != null) prepared.loadAhead(store, VmSnapshots.Loaded.received(manifest, blobs));
        try {
            channel.force(true);
            channel.close();
            channel = null;
            Files.move(file, memory, StandardCopyOption.ATOMIC_MOVE);
            file = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the memory file in " + dir + ": " + e.getMessage(), e);
        }
        try (PageBatch batch = store.pages().batch()) {
            for (BlobRef r : refs) batch.putBlob(blobs.get(r.getSha256()));
            batch.commit();
        }
        store.manifests().write(manifest);
        if (prepared != null) prepared.keep(memory);
        prepared = null;
        return id;
    }

    /**
     * A migration that did not finish: its partial memory file is deleted (after {@link #finish},
     * nothing: the file is the snapshot's then). It may come from another thread than the frames.
     */
    public synchronized void discard() {
        if (prepared != null) prepared.close();
        prepared = null;
        try {
            if (channel != null) channel.close();
            if (file != null) Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // the file goes with the directory's next clean-up; nothing refers to it
        }
        channel = null;
        file = null;
    }

    /**
     * Deletes the partial memory files in {@code dataDir}'s migrations directory that no migration
     * is receiving (their receiver died: a killed target node leaves one). A file is being received
     * while its receiver holds its lock (in this JVM or another process sharing the directory).
     * Returns how many were deleted.
     */
    public static int sweep(Path dataDir) {
        Path dir = dataDir.resolve("migrations");
        if (!Files.isDirectory(dir)) return 0;
        int deleted = 0;
        try (var files = Files.newDirectoryStream(dir, "*" + INCOMING)) {
            for (Path f : files) {
                try (FileChannel c = FileChannel.open(f, StandardOpenOption.WRITE)) {
                    if (c.tryLock() == null) continue; // another process receives it
                    Files.delete(f);
                    deleted++;
                } catch (java.nio.channels.OverlappingFileLockException e) {
                    // this JVM receives it
                } catch (IOException e) {
                    // gone meanwhile, or not ours to delete: the next sweep sees it again
                }
            }
        } catch (IOException e) {
            // the directory went away or cannot be listed: nothing to sweep now
        }
        return deleted;
    }

    /**
     * Deletes what earlier moves of VM {@code vmName} left in {@code store}: each snapshot a move
     * brought (its memory a file of the migrations directory) except {@code keep} and any snapshot
     * another one is taken on top of (an incremental snapshot's parent). A move's snapshot is how
     * the VM crossed; once a later move has committed, the VM and any failover go on from that
     * one. Snapshots that users take are never touched. Each manifest goes before its memory file,
     * so no reader finds a snapshot without its memory. When a manifest cannot be read (it might
     * chain on one of them) nothing is deleted. Returns the ids deleted.
     */
    public static List<String> deleteEarlierMoves(SnapshotStore store, String vmName, String keep) {
        Path dir = store.dataDir().resolve("migrations").toAbsolutePath().normalize();
        SnapshotManifests manifests = store.manifests();
        List<String> moves = new ArrayList<>();
        try (var files = Files.newDirectoryStream(dir, "*" + MEMORY)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                String id = name.substring(0, name.length() - MEMORY.length());
                if (id.equals(keep) || !SnapshotManifests.isValidId(id) || !manifests.exists(id)) continue;
                SnapshotManifest m = manifests.read(id);
                if (m.getVmName().equals(vmName) && Path.of(m.getMemoryFile()).normalize().equals(f.toAbsolutePath().normalize())) moves.add(id);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            return List.of(); // no move came here
        } catch (IOException | RuntimeException e) {
            LOG.warn("VM {}: the snapshots of its earlier moves are kept: {}", vmName, e.getMessage());
            return List.of();
        }
        if (moves.isEmpty()) return List.of();
        Set<String> parents = new HashSet<>();
        try {
            for (String id : manifests.list()) {
                String parent = manifests.read(id).getParentId();
                if (!parent.isEmpty()) parents.add(parent);
            }
        } catch (RuntimeException e) {
            LOG.warn("VM {}: the snapshots of its earlier moves are kept, as a manifest could not be read: {}", vmName, e.getMessage());
            return List.of();
        }
        List<String> deleted = new ArrayList<>();
        for (String id : moves) {
            if (parents.contains(id)) continue;
            try {
                manifests.delete(id);
                Files.deleteIfExists(dir.resolve(id + MEMORY));
                deleted.add(id);
            } catch (IOException | UncheckedIOException e) {
                LOG.warn("VM {}: the snapshot {} of an earlier move could not be deleted: {}", vmName, id, e.getMessage());
            }
        }
        return deleted;
    }

    /** The VM this migration brings, once its hello came ({@code ""} before). */
    public synchronized String vmName() {
        return hello == null ? "" : hello.getVmName();
    }

    /** A frame a migration's source should not have sent. */
    public static final class MigrationException extends RuntimeException {
        public MigrationException(String message) {
            super(message);
        }
    }
}
