package io.actorvm.persistence;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.atomic.LongAdder;

/**
 * Puts made durable together. A put writes new content to a temporary file without forcing it;
 * {@link #commit()} forces the temporary files from {@value PageStore#SYNC_THREADS} threads at once, renames
 * each to its hash once it is on disk, then fsyncs each touched directory once. So a file under
 * a hash name is always complete and durable, as with a single put, at a fraction of the cost:
 * one fsync at a time costs a journal commit each, concurrent ones share them. A batch also
 * commits by itself every {@value PageStore#BATCH_FLUSH_PAGES} new files, bounding what it holds.
 *
 * <p>Content put into the batch is visible to {@link PageStore#get} only after the commit; the manifest
 * naming the pages must be written after {@link #commit()} (or {@link #close()}) returns. Puts may
 * come from several threads at once. Counts what it wrote and what it found already present.
 */
public final class PageBatch implements AutoCloseable {
    private record Pending(PageStore.Area area, Path temporary, Path target) {}

    private final PageStore store;
    private final int syncThreads;
    private final int flushThreshold;
    private final ConcurrentHashMap<String, Pending> pending = new ConcurrentHashMap<>();
    private final Set<Path> dirtyAreas = ConcurrentHashMap.newKeySet();
    private final ReentrantReadWriteLock commitLock = new ReentrantReadWriteLock();
    private final LongAdder written = new LongAdder();
    private final LongAdder writtenBytes = new LongAdder();
    private final LongAdder present = new LongAdder();
    private volatile boolean closed;

    PageBatch(PageStore store, int syncThreads, int flushThreshold) {
        this.store = store;
        this.syncThreads = syncThreads;
        this.flushThreshold = flushThreshold;
    }

    public String put(byte[] page) {
        return Sha256.toHex(putDigest(ByteBuffer.wrap(page), store.pages));
    }

    /** Stores the bytes of {@code page} (guest memory): copied once, and the copy hashed and written. */
    public String put(MemorySegment page) {
        return Sha256.toHex(putDigest(PageCopy.of(page), store.pages));
    }

    /** As {@link #put(MemorySegment)}, returning the 32 raw digest bytes (what a manifest stores). */
    public byte[] putDigest(MemorySegment page) {
        return putDigest(PageCopy.of(page), store.pages);
    }

    public String putBlob(byte[] blob) {
        return Sha256.toHex(putDigest(ByteBuffer.wrap(blob), store.blobs));
    }

    /** {@code content} must not change meanwhile (a copy of guest memory, never guest memory itself). */
    private byte[] putDigest(ByteBuffer content, PageStore.Area area) {
        if (closed) throw new IllegalStateException("this page store batch is closed");
        byte[] digest = Sha256.digest(content);
        String hash = Sha256.toHex(digest);
        Path target = PageStore.pathOf(area, hash);
        long size = content.remaining();
        if (PageStore.isStored(target, content)) {
            present.increment();
            return digest;
        }
        String key = area.noun + hash;
        commitLock.readLock().lock();
        try {
            // Again under the lock: a commit may have published this content since the check above.
            if (pending.containsKey(key) || PageStore.isStored(target, content)) {
                present.increment();
                return digest;
            }
            if (PageStore.ensureDirectory(area, target.getParent())) dirtyAreas.add(area.dir);
            Path tmp = AtomicFiles.writeTemporary(target, content, false);
            if (pending.putIfAbsent(key, new Pending(area, tmp, target)) != null) {
                Files.deleteIfExists(tmp); // another thread put the same content meanwhile
                present.increment();
                return digest;
            }
            written.increment();
            writtenBytes.add(size);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store " + area.noun + " " + hash + " in " + area.dir + ": " + e.getMessage(), e);
        } finally {
            commitLock.readLock().unlock();
        }
        if (pending.size() >= flushThreshold) commit();
        return digest;
    }

    /** Pages and blobs this batch wrote (new content). */
    public long written() {
        return written.sum();
    }

    /** Bytes of new content this batch wrote. */
    public long writtenBytes() {
        return writtenBytes.sum();
    }

    /** Puts whose content was already stored or already in this batch (nothing written). */
    public long deduplicated() {
        return present.sum();
    }

    /**
     * Makes everything put so far durable and visible: forces the temporary files, renames them
     * to their hashes, fsyncs their directories. On failure the uncommitted files are deleted
     * and the exception says which; nothing may then refer to pages of this batch.
     */
    public void commit() {
        commitLock.writeLock().lock();
        try {
            if (pending.isEmpty() && dirtyAreas.isEmpty()) return;
            List<Pending> files = List.copyOf(pending.values());
            Set<Path> dirs = new HashSet<>();
            for (Pending p : files) dirs.add(p.target().getParent());
            try {
                inParallel(files, p -> {
                    AtomicFiles.force(p.temporary());
                    AtomicFiles.publish(p.temporary(), p.target());
                });
                pending.clear();
                inParallel(dirs, AtomicFiles::fsyncDirectory);
                inParallel(dirtyAreas, AtomicFiles::fsyncDirectory);
                dirtyAreas.clear();
            } catch (IOException e) {
                for (Pending p : pending.values()) AtomicFiles.deleteQuietly(p.temporary(), e);
                pending.clear();
                throw new UncheckedIOException("cannot commit to the page store in " + store.root() + ": " + e.getMessage(), e);
            }
        } finally {
            commitLock.writeLock().unlock();
        }
    }

    /** Commits; the batch takes no more puts. */
    @Override
    public void close() {
        closed = true;
        commit();
    }

    private interface IoAction<T> {
        void run(T item) throws IOException;
    }

    private <T> void inParallel(Collection<T> items, IoAction<T> action) throws IOException {
        if (items.isEmpty()) return;
        int threads = Math.min(syncThreads, items.size());
        if (threads <= 1) {
            for (T item : items) action.run(item);
            return;
        }
        List<Future<?>> results = new ArrayList<>(items.size());
        try (ExecutorService pool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().daemon().name("page-store-sync-", 0).factory())) {
            for (T item : items) results.add(pool.submit(() -> {
                action.run(item);
                return null;
            }));
        }
        IOException failure = null;
        for (Future<?> r : results) {
            try {
                r.get();
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException io) {
                    if (failure == null) failure = io; else failure.addSuppressed(io);
                } else if (cause instanceof RuntimeException re) {
                    throw re;
                } else {
                    throw new IllegalStateException(cause);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while syncing", e);
            }
        }
        if (failure != null) throw failure;
    }
}
