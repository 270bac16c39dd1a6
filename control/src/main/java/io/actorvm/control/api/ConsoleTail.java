package io.actorvm.control.api;

import java.util.Arrays;

/**
 * The last {@link #CAPACITY} bytes a VM wrote to its console, for a VMM that has no terminal to
 * write them to ({@code serve}): readable any time, from any offset still held, so a client can
 * poll for what is new ({@code GET /vms/NAME/console?since=N}). Thread-safe.
 */
public final class ConsoleTail {
    public static final int CAPACITY = 64 * 1024;

    private final byte[] ring = new byte[CAPACITY];
    private long total;

    /** What was read: {@code bytes} from offset {@code from} of the whole output, which is {@code total} bytes so far. */
    public record Read(long from, long total, byte[] bytes) {}

    public synchronized void append(byte[] bytes) {
        int skip = Math.max(0, bytes.length - CAPACITY); // only the newest CAPACITY bytes can be held
        for (int i = skip; i < bytes.length; i++) {
            ring[(int) ((total + i) % CAPACITY)] = bytes[i];
        }
        total += bytes.length;
    }

    /** Output from offset {@code since} (or the oldest byte still held, if that is later) to the end. */
    public synchronized Read since(long since) {
        long from = Math.max(Math.max(0, since), total - CAPACITY);
        if (from >= total) return new Read(total, total, new byte[0]);
        byte[] out = new byte[(int) (total - from)];
        for (int i = 0; i < out.length; i++) out[i] = ring[(int) ((from + i) % CAPACITY)];
        return new Read(from, total, out);
    }

    public synchronized long total() {
        return total;
    }

    @Override
    public synchronized String toString() {
        return "ConsoleTail[" + total + " bytes, last " + Arrays.toString(since(total - 16).bytes()) + "]";
    }
}
