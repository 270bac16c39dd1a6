package io.actorvm.mmu;

import io.actorvm.libc.Libc;
import io.actorvm.libc.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Host memory for guest RAM: an anonymous private mapping with MAP_NORESERVE, so a large guest
 * costs only the pages it touches. Zero-filled by the kernel; never allocated on the Java heap.
 */
public final class AnonymousMapping implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;

    private AnonymousMapping(Arena arena, MemorySegment segment) {
        this.arena = arena;
        this.segment = segment;
    }

    /** Maps {@code size} bytes (a multiple of 4 KiB) of zeroed, lazily allocated memory. */
    public static AnonymousMapping map(long size) {
        if (size <= 0 || (size & 0xFFF) != 0) throw new IllegalArgumentException("mapping size must be a positive multiple of 4 KiB: " + size);
        // The segment's lifetime is a shared arena whose closing unmaps it: any access after
        // close() (from any thread, through any slice) throws instead of touching freed memory.
        Arena arena = Arena.ofShared();
        try {
            return new AnonymousMapping(arena, Libc.mmapAnonymous(size, arena, "mmap of " + size + " bytes of guest memory"));
        } catch (SyscallException e) {
            arena.close();
            throw new OutOfMemoryError(e.getMessage());
        }
    }

    public MemorySegment segment() {
        return segment;
    }

    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
