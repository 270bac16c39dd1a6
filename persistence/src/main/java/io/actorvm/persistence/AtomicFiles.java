package io.actorvm.persistence;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Crash-safe file creation: the content goes to a temporary file in the target's directory, is
 * forced to disk, and the temporary file is renamed over the target (an atomic replace on POSIX
 * file systems). A reader therefore sees the old state or the whole new file, never a prefix.
 * The caller makes the rename itself durable with {@link #fsyncDirectory}.
 */
final class AtomicFiles {
    /** Temporary files start with this; nothing else in our directories does. */
    static final String TEMP_PREFIX = ".tmp-";

    private AtomicFiles() {
    }

    /** Writes {@code content}'s remaining bytes (its position is left unchanged) as {@code target}. */
    static void write(Path target, ByteBuffer content) throws IOException {
        Path tmp = writeTemporary(target, content, true);
        publish(tmp, target);
    }

    /**
     * Writes {@code content}'s remaining bytes to a new temporary file beside {@code target}, forced
     * to disk when {@code force}; returns its path. Nothing is left behind on failure.
     */
    static Path writeTemporary(Path target, ByteBuffer content, boolean force) throws IOException {
        Path tmp = target.resolveSibling(TEMP_PREFIX + target.getFileName() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = content.duplicate();
            while (b.hasRemaining()) ch.write(b);
            if (force) ch.force(false);
        } catch (IOException | RuntimeException | Error e) {
            deleteQuietly(tmp, e);
            throw e;
        }
        return tmp;
    }

    /** fsync(2) on a file written earlier without forcing. */
    static void force(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(false);
        }
    }

    /** Renames a (forced) temporary file over its target; deletes it if that fails. */
    static void publish(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException | Error e) {
            deleteQuietly(tmp, e);
            throw e;
        }
    }

    static void deleteQuietly(Path file, Throwable cause) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException suppressed) {
            cause.addSuppressed(suppressed);
        }
    }

    /** fsync(2) on a directory, so that entries created or renamed in it survive a crash. */
    static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
