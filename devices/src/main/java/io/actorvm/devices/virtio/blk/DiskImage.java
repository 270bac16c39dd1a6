package io.actorvm.devices.virtio.blk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The host backend of a virtio-blk device: a raw image of whole 512-byte sectors. Positional
 * reads and writes must be thread-safe: several requests of a queue run at once. In production a
 * file ({@link #open}); a device recording wraps one, and a replay serves the recorded reads.
 */
public interface DiskImage extends AutoCloseable {
    int SECTOR = 512;

    /** Opens an image file; a one-line {@link IOException} message names the problem. */
    static DiskImage open(Path path, boolean readOnly) throws IOException {
        return FileDiskImage.open(path, readOnly);
    }

    /** Where the image lives (for messages). */
    Path path();

    boolean readOnly();

    /** Bytes, a whole number of sectors. */
    long size();

    default long sectors() {
        return size() / SECTOR;
    }

    /** Reads exactly {@code dst.remaining()} bytes at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes all of {@code src} at {@code offset}; an {@link IOException} on a read-only image. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Makes every completed write durable: fsync. */
    void flush() throws IOException;

    @Override
    void close() throws IOException;
}
