package io.actorvm.devices.virtio.blk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;

/**
 * A raw image file as a {@link DiskImage}. Positional reads and writes are thread-safe on a
 * {@link FileChannel}, so several requests of a queue can run at once.
 */
final class FileDiskImage implements DiskImage {

    private final Path path;
    private final FileChannel channel;
    private final boolean readOnly;
    private final long size;

    private FileDiskImage(Path path, FileChannel channel, boolean readOnly, long size) {
        this.path = path;
        this.channel = channel;
        this.readOnly = readOnly;
        this.size = size;
    }

    static DiskImage open(Path path, boolean readOnly) throws IOException {
        if (!Files.isRegularFile(path)) throw new IOException("disk image " + path + " does not exist");
        if (!Files.isReadable(path)) throw new IOException("disk image " + path + " is not readable");
        if (!readOnly && !Files.isWritable(path)) throw new IOException("disk image " + path + " is not writable (use ,ro)");
        var options = readOnly ? EnumSet.of(StandardOpenOption.READ) : EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel ch = FileChannel.open(path, options);
        long size = ch.size();
        if (size % SECTOR != 0) {
            ch.close();
            throw new IOException("disk image " + path + " is " + size + " bytes, not a whole number of 512-byte sectors");
        }
        return new FileDiskImage(path, ch, readOnly, size);
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, offset);
            if (n < 0) throw new IOException("unexpected end of " + path);
            offset += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        if (readOnly) throw new IOException(path + " is read-only");
        while (src.hasRemaining()) offset += channel.write(src, offset);
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) channel.force(true);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
