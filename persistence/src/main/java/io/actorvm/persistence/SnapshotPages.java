package io.actorvm.persistence;

import com.google.protobuf.ByteString;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.proto.MemoryLayout;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotManifest;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongPredicate;

/**
 * Guest memory to and from the {@link PageStore}: the memory part of taking and restoring a
 * snapshot. Pages are read from and written to guest memory in place (no copy of guest RAM on the
 * Java heap). The VM must be paused (vCPUs stopped, devices drained) while pages are captured.
 */
public final class SnapshotPages {
    public static final int PAGE_SIZE = PageStore.PAGE_SIZE;

    private SnapshotPages() {
    }

    /** The layout a manifest records for this memory. */
    public static MemoryLayout layoutOf(GuestMemory memory) {
        MemoryLayout.Builder b = MemoryLayout.newBuilder().setPageSize(PAGE_SIZE);
        for (GuestMemory.Region r : memory.regions()) {
            if (r.guestAddress().value() % PAGE_SIZE != 0 || r.size() % PAGE_SIZE != 0) {
                throw new IllegalArgumentException("RAM region at " + r.guestAddress() + " is not page-aligned");
            }
            b.addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(r.guestAddress().value()).setSize(r.size()));
        }
        return b.build();
    }

    /**
     * Stores every RAM page whose guest page number {@code include} accepts (all of them for a full
     * snapshot, the dirty ones for an incremental one) through {@code batch}, and returns the page
     * references for the manifest, in guest-address order. Call {@link PageBatch#commit()}
     * before writing the manifest.
     */
    public static List<PageRef> capture(GuestMemory memory, PageBatch batch, LongPredicate include) {
        List<PageRef> refs = new ArrayList<>();
        for (GuestMemory.Region r : memory.regions()) {
            capture(r, 0, r.size() / PAGE_SIZE, batch, include, refs);
        }
        return refs;
    }

    /**
     * As {@link #capture(GuestMemory, PageBatch, LongPredicate)}, hashing and writing from
     * {@code threads} threads (each takes a contiguous share of RAM; {@code include} must be
     * thread-safe). Hashing and creating the files are what the writers share; on this project's
     * 2-CPU hosts the virtual disk is the limit and 4 writers measured no better than one.
     */
    public static List<PageRef> capture(GuestMemory memory, PageBatch batch, LongPredicate include, int threads) {
        if (threads <= 1) return capture(memory, batch, include);
        final long chunkPages = 4096; // 16 MiB per task
        List<Callable<List<PageRef>>> tasks = new ArrayList<>();
        for (GuestMemory.Region r : memory.regions()) {
            long pages = r.size() / PAGE_SIZE;
            for (long first = 0; first < pages; first += chunkPages) {
                long from = first, to = Math.min(pages, first + chunkPages);
                tasks.add(() -> {
                    List<PageRef> refs = new ArrayList<>();
                    capture(r, from, to, batch, include, refs);
                    return refs;
                });
            }
        }
        List<PageRef> refs = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().daemon().name("snapshot-capture-", 0).factory())) {
            for (Future<List<PageRef>> f : pool.invokeAll(tasks)) refs.addAll(f.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while capturing guest memory", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
        return refs;
    }

    private static void capture(GuestMemory.Region r, long fromPage, long toPage, PageBatch batch, LongPredicate include,
                                List<PageRef> refs) {
        long firstGpn = r.guestAddress().value() / PAGE_SIZE;
        MemorySegment host = r.host();
        for (long i = fromPage; i < toPage; i++) {
            long gpn = firstGpn + i;
            if (!include.test(gpn)) continue;
            byte[] digest = batch.putDigest(host.asSlice(i * PAGE_SIZE, PAGE_SIZE));
            refs.add(PageRef.newBuilder().setGuestPageNumber(gpn).setSha256(ByteString.copyFrom(digest)).build());
        }
    }

    /**
     * Writes the pages of a chain (as {@link SnapshotManifests#chain} returns it) into
     * {@code memory}, newest level first, each page once, verified. When {@code memoryIsZeroed}
     * (fresh anonymous memory), pages that hash to {@link PageStore#ZERO_PAGE_HASH} are skipped
     * without reading. Returns the number of pages read from the store.
     *
     * @throws IncompatibleSnapshotException when the memory layout differs from the snapshot's
     * @throws SnapshotCorruptException      when a page is missing, damaged, or outside the layout
     */
    public static long restore(GuestMemory memory, PageStore store, List<SnapshotManifest> chain, boolean memoryIsZeroed) {
        if (chain.isEmpty()) throw new IllegalArgumentException("empty snapshot chain");
        SnapshotManifest leaf = chain.getLast();
        MemoryLayout have = layoutOf(memory);
        if (!have.equals(leaf.getMemory())) {
            throw new IncompatibleSnapshotException("snapshot " + leaf.getSnapshotId() + " was taken of " + describe(leaf.getMemory())
                    + ", this VM has " + describe(have));
        }
        byte[] zero = Sha256.fromHex(PageStore.ZERO_PAGE_HASH);
        long[] read = {0};
        SnapshotManifests.forEachEffectivePage(chain, (gpn, sha256) -> {
            if (memoryIsZeroed && java.util.Arrays.equals(sha256, zero)) return;
            GuestAddress address = GuestAddress.of(gpn * PAGE_SIZE);
            if (!memory.isRam(address, PAGE_SIZE)) {
                throw new SnapshotCorruptException("snapshot " + leaf.getSnapshotId() + ": page " + gpn + " lies outside guest RAM");
            }
            store.readInto(Sha256.toHex(sha256), memory.slice(address, PAGE_SIZE));
            read[0]++;
        });
        return read[0];
    }

    private static String describe(MemoryLayout layout) {
        StringBuilder s = new StringBuilder();
        for (MemoryLayout.Region r : layout.getRegionsList()) {
            if (!s.isEmpty()) s.append(", ");
            s.append(r.getSize() >> 20).append(" MiB at 0x").append(Long.toHexString(r.getGuestAddress()));
        }
        return s.isEmpty() ? "no RAM" : "RAM " + s + " (pages of " + layout.getPageSize() + " bytes)";
    }
}
