package io.actorvm.mmu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Host memory for guest RAM: an anonymous private mapping with MAP_NORESERVE, so a large guest
 * costs only the pages it touches. Zero-filled by the kernel; never allocated on the Java heap.
 */
public final class AnonymousMapping implements AutoCloseable {
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20,
            MAP_NORESERVE = 0x4000;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MMAP = LINKER.downcallHandle(LINKER.defaultLookup().find("mmap").orElseThrow(),
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = LINKER.downcallHandle(LINKER.defaultLookup().find("munmap").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));

    private final MemorySegment segment;
    private boolean closed;

    private AnonymousMapping(MemorySegment segment) {
        this.segment = segment;
    }

    /** Maps {@code size} bytes (a multiple of 4 KiB) of zeroed, lazily allocated memory. */
    public static AnonymousMapping map(long size) {
        if (size <= 0 || (size & 0xFFF) != 0) throw new IllegalArgumentException("mapping size must be a positive multiple of 4 KiB: " + size);
        MemorySegment p;
        try {
            p = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (p.address() == -1L) throw new OutOfMemoryError("mmap of " + size + " bytes of guest memory failed");
        return new AnonymousMapping(p.reinterpret(size));
    }

    public MemorySegment segment() {
        return segment;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            int unused = (int) MUNMAP.invokeExact(segment, segment.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
