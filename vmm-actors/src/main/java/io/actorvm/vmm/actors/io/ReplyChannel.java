package io.actorvm.vmm.actors.io;

import io.actorvm.vmm.actors.device.ReadReply;

import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * One vCPU's channel for the answers to its reads: the vCPU numbers a read, sends it with this
 * channel as the reply address and waits here (spinning briefly, then parked) instead of through
 * an ask, which would spawn a temporary actor and a timer per read. A vCPU has at most one read
 * outstanding, so one channel per vCPU thread is enough and is reused for every read.
 */
final class ReplyChannel implements ReadReply {
    /**
     * How long a read spins before it parks: a device actor running on another core answers
     * within a few microseconds, and parking costs the vCPU a wake-up of about as much again
     * (measured with {@code bench/exit-dispatch.sh}: 2 µs of spinning left reads at ~22 µs, 20 µs
     * brought them to 1–7 µs). With one CPU the device cannot answer while the vCPU spins: no spin.
     */
    static final long SPIN_NANOS = Long.getLong("actorvm.read-spin-nanos",
            Runtime.getRuntime().availableProcessors() > 1 ? 20_000 : 0);

    private final Thread owner;
    private long lastTicket;   // owner only
    private long expected;     // guarded by this: the ticket an answer is accepted for, 0 for none
    private long value;        // written under the lock before answered
    private volatile long answered;

    ReplyChannel(Thread owner) {
        this.owner = owner;
    }

    /** Numbers a new read and makes the channel accept its answer only. */
    long open() {
        long ticket = ++lastTicket;
        synchronized (this) {
            expected = ticket;
        }
        return ticket;
    }

    @Override
    public void answer(long ticket, long v) {
        synchronized (this) {
            if (ticket != expected) return; // the vCPU gave up on that read
            value = v;
            expected = 0;
            answered = ticket; // volatile write publishes value to the waiting owner
        }
        LockSupport.unpark(owner);
    }

    /**
     * Waits for the answer to {@code ticket} until {@code deadline} ({@link System#nanoTime()}).
     * Interruption (the vCPU is told to stop) and the deadline close the channel for that read.
     */
    long await(long ticket, long deadline) throws InterruptedException, TimeoutException {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        for (int spins = 0; answered != ticket; spins++) {
            if ((spins & 63) != 0 || System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
                continue;
            }
            if (Thread.interrupted()) {
                if (!close(ticket)) throw new InterruptedException();
                Thread.currentThread().interrupt(); // answered after all: keep the request to stop
                return value;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                if (close(ticket)) return value;
                throw new TimeoutException();
            }
            LockSupport.parkNanos(this, left);
        }
        return value; // read after the volatile read of answered: sees the answer's value
    }

    /** Stops accepting the answer to {@code ticket}; true if it came in the meantime. */
    private synchronized boolean close(long ticket) {
        expected = 0;
        return answered == ticket;
    }
}
