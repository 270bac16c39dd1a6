package io.actorvm.vmm.actors.migration;

import com.google.protobuf.UnsafeByteOperations;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.proto.MigrationBlob;
import io.actorvm.persistence.proto.MigrationFrame;
import io.actorvm.persistence.proto.MigrationHello;
import io.actorvm.persistence.proto.MigrationPages;
import io.actorvm.persistence.proto.MigrationState;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

/**
 * The source side of a live migration, as the frames it sends: a hello, then rounds of guest
 * pages while the guest runs (the first round every page that is not zero, each later one the
 * pages KVM's dirty log and the VMM's own writes report since the round before), until what is
 * left to send fits the downtime target at the rate measured so far or the round limit is hit;
 * then the guest is paused ({@link Guest#pauseAndCapture}), the last dirty pages go, and the state
 * of the vCPUs, the VM and the devices goes last.
 *
 * <p>An iterator, pulled by the migration's stream at the pace the connection takes bytes
 * (back-pressure): nothing is read from guest memory that the connection cannot take yet. Its
 * {@code next} blocks (reading memory, waiting for the pause) and runs on a blocking dispatcher.
 * {@link #close} may come from another thread (the VM stops, the migration is aborted): it waits
 * for a frame being read from guest memory, and no memory is read after it.
 */
public final class PreCopy implements Iterator<MigrationFrame>, AutoCloseable {
    static final int PAGE = 4096;
    /** Pages per frame: 1 MiB of guest memory. */
    static final int FRAME_PAGES = 256;

    /** What a pre-copy needs of the VM it moves. */
    public interface Guest {
        List<GuestMemory.Region> regions();

        /** Pages of region {@code index} written since the last call (a bitmap; reading clears it). */
        long[] takeDirty(int index);

        /**
         * Pauses the guest (vCPUs parked, rings quiesced) and returns the state of its devices;
         * blocks until it is paused. Called once, from the thread pulling frames.
         */
        java.util.Map<String, byte[]> pauseAndCapture() throws Exception;

        /** The state blobs of the machine (parked vCPUs, VM) with {@code devices}; called once paused. */
        List<VmSnapshots.StateBlob> machineStates(java.util.Map<String, byte[]> devices);
    }

    /**
     * How a migration converges: {@code downtime} is the longest pause the last round may cost at
     * the rate measured so far, {@code maxRounds} the rounds after which it stops and copies anyway.
     */
    public record Settings(Duration downtime, int maxRounds) {
        public static final Settings DEFAULT = new Settings(Duration.ofMillis(50), 30);

        public Settings {
            if (downtime.isNegative() || maxRounds < 1) throw new IllegalArgumentException("downtime >= 0 and at least one round");
        }
    }

    /**
     * Where a migration stands: {@code round} (the last one is the stop-and-copy), {@code bytes} of
     * guest pages sent so far, {@code pagesLeft} dirty pages the next round sends, the dirty rate
     * and the link rate measured over the round just sent (bytes per second), and whether the
     * guest is paused now.
     */
    public record Progress(int round, long bytes, long pagesLeft, long dirtyBytesPerSecond, long linkBytesPerSecond, boolean paused,
                           long pausedAtMillis) {}

    private enum Phase { HELLO, ROUNDS, DONE }

    private static final MemorySegment ZERO_PAGE = Arena.global().allocate(PAGE);

    private final Guest guest;
    private final MigrationHello hello;
    private final SnapshotManifest skeleton;
    private final Settings settings;
    private final Consumer<Progress> progress;

    private Phase phase = Phase.HELLO;
    private long[][] toSend;
    private int region;
    private long page;
    private int round;
    private boolean stopAndCopy;
    private long roundStart;
    private long roundBytes;
    /** Pages the round named, with bytes or as zero pages. */
    private long roundPages;
    /** The best link rate a round of at least one frame's worth measured (bytes/s; 0: none yet). */
    private long measuredRate;
    private long bytes;
    private long pausedAtMillis;
    private java.util.Map<String, byte[]> devices;
    private boolean closed;

    /**
     * @param hello    the first frame (VM name, source, epoch, memory layout)
     * @param skeleton the manifest the target restores, without pages or states (config, layout)
     */
    public PreCopy(Guest guest, MigrationHello hello, SnapshotManifest skeleton, Settings settings, Consumer<Progress> progress) {
        this.guest = guest;
        this.hello = hello;
        this.skeleton = skeleton;
        this.settings = settings;
        this.progress = progress;
    }

    @Override
    public synchronized boolean hasNext() {
        return phase != Phase.DONE && !closed;
    }

    @Override
    public MigrationFrame next() {
        while (true) {
            synchronized (this) {
                if (closed) throw new IllegalStateException("the migration was ended");
                switch (phase) {
                    case HELLO -> {
                        // The log is cleared first: what the guest writes from here on is found dirty by
                        // round 2, so round 1 may read pages as they change.
                        long[][] all = new long[guest.regions().size()][];
                        for (int i = 0; i < all.length; i++) {
                            guest.takeDirty(i);
                            long pages = guest.regions().get(i).size() / PAGE;
                            all[i] = new long[(int) ((pages + 63) / 64)];
                            for (long p = 0; p < pages; p++) all[i][(int) (p >>> 6)] |= 1L << (p & 63);
                        }
                        beginRound(all);
                        phase = Phase.ROUNDS;
                        return MigrationFrame.newBuilder().setHello(hello).build();
                    }
                    case ROUNDS -> {
                        MigrationPages pages = nextPages();
                        if (pages != null) return MigrationFrame.newBuilder().setPages(pages).build();
                        if (stopAndCopy) {
                            phase = Phase.DONE;
                            return stateFrame();
                        }
                    }
                    case DONE -> throw new NoSuchElementException();
                }
            }
            // A round is sent: the next one, or pause for the last (outside the lock: the pause is
            // answered by the VM's actor, which may be closing this pre-copy meanwhile).
            endRound();
        }
    }

    /** Stops reading guest memory; waits for a frame being read now. */
    @Override
    public synchronized void close() {
        closed = true;
    }

    private void beginRound(long[][] bitmaps) {
        toSend = bitmaps;
        region = 0;
        page = 0;
        round++;
        roundStart = System.nanoTime();
        roundBytes = 0;
        roundPages = 0;
    }

    /** Up to {@link #FRAME_PAGES} pages of this round from where the last frame ended; null when the round is sent. */
    private MigrationPages nextPages() {
        MigrationPages.Builder out = MigrationPages.newBuilder().setRound(round);
        byte[] data = null;
        int n = 0;
        List<GuestMemory.Region> regions = guest.regions();
        while (region < regions.size() && n < FRAME_PAGES) {
            GuestMemory.Region r = regions.get(region);
            long pages = r.size() / PAGE;
            long[] bits = toSend[region];
            if (page >= pages) {
                region++;
                page = 0;
                continue;
            }
            long word = bits[(int) (page >>> 6)] >>> (page & 63);
            if (word == 0) { // nothing left in this word: on to the next
                page = (page | 63) + 1;
                continue;
            }
            page += Long.numberOfTrailingZeros(word);
            if (page >= pages) continue;
            long gpn = r.guestAddress().value() / PAGE + page;
            MemorySegment src = r.host().asSlice(page * PAGE, PAGE);
            page++;
            if (src.mismatch(ZERO_PAGE) == -1) {
                // The target's memory starts as zeros: round 1 skips zero pages, later ones name them.
                if (round > 1) out.addZeroPages(gpn);
                continue;
            }
            if (data == null) data = new byte[FRAME_PAGES * PAGE];
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, data, n * PAGE, PAGE);
            out.addPageNumbers(gpn);
            n++;
        }
        if (n == 0 && out.getZeroPagesCount() == 0) return null;
        if (n > 0) out.setData(UnsafeByteOperations.unsafeWrap(data, 0, n * PAGE)); // the array is this frame's alone
        roundBytes += (long) n * PAGE;
        roundPages += n + out.getZeroPagesCount();
        bytes += (long) n * PAGE;
        return out.build();
    }

    /** Decides, after a round, whether another round goes or the guest pauses for the last one. */
    private void endRound() {
        long[][] dirty;
        long elapsed;
        synchronized (this) {
            if (closed) throw new IllegalStateException("the migration was ended");
            elapsed = Math.max(1, System.nanoTime() - roundStart);
            dirty = takeAllDirty();
        }
        long dirtyPages = count(dirty);
        long linkRate = roundBytes * 1_000_000_000L / elapsed;
        long dirtyRate = dirtyPages * PAGE * 1_000_000_000L / elapsed;
        // What fits the downtime at the best rate a round of a frame or more measured (a smaller one
        // is no measure: its bytes may still sit in socket buffers). A guest whose dirty set stays
        // small never sends a round that big; for it, a last round of no more pages than the round
        // just sent, which took no longer than the downtime target, fits the target as well.
        if (roundBytes >= (long) FRAME_PAGES * PAGE) measuredRate = Math.max(measuredRate, linkRate);
        long budget = measuredRate * settings.downtime().toNanos() / 1_000_000_000L;
        boolean small = dirtyPages <= roundPages && elapsed <= settings.downtime().toNanos();
        boolean last = dirtyPages * PAGE <= budget || small || dirtyPages == 0 || round >= settings.maxRounds();
        if (!last) {
            progress.accept(new Progress(round, bytes, dirtyPages, dirtyRate, linkRate, false, 0));
            synchronized (this) {
                beginRound(dirty);
            }
            return;
        }
        java.util.Map<String, byte[]> captured;
        // The downtime counts from here: the vCPUs stop at some moment of the pause, and the
        // devices' capture after it is downtime too.
        long pauseAskedMillis = System.currentTimeMillis();
        try {
            captured = guest.pauseAndCapture();
        } catch (Exception e) {
            throw new IllegalStateException("the guest could not be paused for the last round: " + e.getMessage(), e);
        }
        synchronized (this) {
            if (closed) throw new IllegalStateException("the migration was ended");
            pausedAtMillis = pauseAskedMillis;
            devices = captured;
            // Pages written between the decision and the pause go in the last round too.
            long[][] more = takeAllDirty();
            for (int i = 0; i < dirty.length; i++) for (int w = 0; w < dirty[i].length; w++) dirty[i][w] |= more[i][w];
            stopAndCopy = true;
            progress.accept(new Progress(round + 1, bytes, count(dirty), dirtyRate, linkRate, true, pausedAtMillis));
            beginRound(dirty);
        }
    }

    private long[][] takeAllDirty() {
        long[][] out = new long[guest.regions().size()][];
        for (int i = 0; i < out.length; i++) out[i] = guest.takeDirty(i);
        return out;
    }

    private static long count(long[][] bitmaps) {
        long n = 0;
        for (long[] b : bitmaps) for (long w : b) n += Long.bitCount(w);
        return n;
    }

    /** The last frame: the manifest and the blobs of the parked machine. */
    private MigrationFrame stateFrame() {
        SnapshotManifest.Builder manifest = skeleton.toBuilder();
        MigrationState.Builder state = MigrationState.newBuilder();
        for (VmSnapshots.StateBlob b : guest.machineStates(devices)) {
            String sha = io.actorvm.persistence.Sha256.hex(b.bytes());
            VmSnapshots.addState(manifest, b, sha);
            state.addBlobs(MigrationBlob.newBuilder().setSha256(sha).setContent(com.google.protobuf.ByteString.copyFrom(b.bytes())));
        }
        return MigrationFrame.newBuilder().setState(state.setManifest(manifest)).build();
    }

    /** Guest page bytes sent so far. */
    public synchronized long bytesSent() {
        return bytes;
    }

    /** When the guest was paused for the last round (epoch ms), 0 while it runs. */
    public synchronized long pausedAtMillis() {
        return pausedAtMillis;
    }

    /** Rounds begun (the last one the stop-and-copy). */
    public synchronized int rounds() {
        return round;
    }
}
