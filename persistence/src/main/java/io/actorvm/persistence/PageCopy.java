package io.actorvm.persistence;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The copy of guest memory a put hashes and writes. Guest memory can change under a reader (a
 * device's DMA, a running vCPU while a migration copies pages); hashing the memory and then
 * writing it could store one content under another's hash. A copy taken once is hashed and
 * written, so the name always matches the file.
 *
 * <p>Pages of {@link PageStore#PAGE_SIZE} go through one reused buffer per thread: the copy lives
 * only until the put that made it returns, which is why this class is not public.
 */
final class PageCopy {
    private static final ThreadLocal<ByteBuffer> PAGE = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(PageStore.PAGE_SIZE));

    private PageCopy() {
    }

    /** A copy of {@code memory}, valid until this thread's next call. */
    static ByteBuffer of(MemorySegment memory) {
        ByteBuffer copy = memory.byteSize() == PageStore.PAGE_SIZE ? PAGE.get().clear()
                : ByteBuffer.allocate(Math.toIntExact(memory.byteSize()));
        MemorySegment.ofBuffer(copy).copyFrom(memory);
        return copy;
    }
}
