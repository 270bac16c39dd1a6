package io.actorvm.vmm.actors.console;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * A bounded buffer between a console subscriber, which must never block (it is an actor, and
 * behind it the guest), and where the output goes, which may block for ever (a terminal the user
 * paused, a pipe nobody reads, a slow callback). A thread of its own hands the chunks on in order.
 * When the destination falls more than {@link #CAPACITY} bytes behind, new output is dropped and
 * counted, as Firecracker's serial console does: the guest keeps running, and the heap does not
 * grow with what it writes.
 */
public final class ConsoleSink implements AutoCloseable {
    /** Bytes held for a destination that has not taken them yet. */
    public static final int CAPACITY = 1 << 20;

    private static final Logger LOG = LoggerFactory.getLogger(ConsoleSink.class);

    private final String name;
    private final Consumer<byte[]> destination;
    private final ArrayDeque<byte[]> chunks = new ArrayDeque<>();
    private final Thread writer;
    private long queued;       // bytes in chunks; guarded by this
    private long dropped;      // guarded by this
    private boolean writing;   // the writer holds a chunk it has not finished; guarded by this
    private boolean closed;    // guarded by this

    /** Starts the writer thread, which calls {@code destination} with each chunk, in order. */
    public ConsoleSink(String name, Consumer<byte[]> destination) {
        this.name = name;
        this.destination = destination;
        this.writer = Thread.ofVirtual().name("console-sink-" + name).start(this::drain);
    }

    /** Queues a chunk for the destination, or drops it (counted) when the buffer is full. Never blocks. */
    public synchronized void offer(byte[] chunk) {
        if (closed) return;
        if (queued + chunk.length > CAPACITY) {
            if (dropped == 0) LOG.warn("console {}: its output is not being taken; guest output is dropped until it is", name);
            dropped += chunk.length;
            return;
        }
        chunks.add(chunk);
        queued += chunk.length;
        notifyAll();
    }

    /** Bytes dropped because the destination was too far behind. */
    public synchronized long dropped() {
        return dropped;
    }

    /** Bytes waiting for the destination. */
    public synchronized long queued() {
        return queued;
    }

    /** Waits until everything offered so far has been handed on; false if that took longer than {@code timeout}. */
    public synchronized boolean awaitDrained(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!chunks.isEmpty() || writing) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return false;
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    /** Stops handing output on; a destination blocked in a call is interrupted. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            chunks.clear();
            queued = 0;
            notifyAll();
        }
        writer.interrupt();
    }

    private void drain() {
        while (true) {
            byte[] chunk;
            synchronized (this) {
                writing = false;
                notifyAll(); // awaitDrained may be waiting for the chunk just written
                while (chunks.isEmpty() && !closed) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) return;
                chunk = chunks.poll();
                queued -= chunk.length;
                writing = true;
            }
            try {
                destination.accept(chunk);
            } catch (RuntimeException e) {
                LOG.warn("console {}: its destination failed: {}", name, e.toString());
            }
        }
    }
}
