package io.actorvm.vmm.actors.device;

import io.actorvm.kvm.VmExit;
import io.actorvm.io.buffering.BufferedWrite;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * One device's backlog of guest accesses: the bounded ring its vCPUs put port and MMIO accesses in
 * and its {@link DeviceActor} takes them from, in the order they were put. It is the actor's guest
 * mailbox without the cost of a message per exit: the slots are arrays allocated once, so a write
 * or a read allocates nothing; the actor is told ({@link DeviceActor.DrainBacklog}, one message)
 * only when it was idle, and while it drains, further accesses join the same turn.
 *
 * <p>Bounded: a vCPU takes a place before it puts an access and the actor gives it back as it takes
 * the access; when every place is taken the vCPU waits, as a slow device stalls its writer on
 * hardware. So a guest that writes faster than its device works (a {@code rep outsb} flood, a
 * reset loop) can grow neither the heap nor the time a later read waits behind the backlog. An
 * access holds at most one exit's data (a {@code rep outs} of up to a page is one access), so the
 * backlog is bounded in bytes as well: {@link #CAPACITY} × 4 KiB per device at worst.
 *
 * <p>Many producers (the VM's vCPU threads), one consumer (the device actor, one thread at a time).
 */
public final class DeviceBacklog {
    /** Places per device: deep enough that a device keeping up never stalls its vCPU. */
    public static final int CAPACITY = 256;
    /** Tries before a waiting vCPU parks: the device actor usually frees a place within microseconds. */
    private static final int SPINS = 64;

    /** What a slot holds. */
    static final byte WRITE = 1, READ = 2, REP_WRITE = 3, BATCH = 4;

    private static final VarHandle SEQUENCE = MethodHandles.arrayElementVarHandle(long[].class);

    private final int capacity;
    private final int mask;
    private final Semaphore places;
    // The slots. A producer owns slot (n & mask) from claiming number n until it publishes
    // sequence[slot] = n + 1; the consumer owns it from reading that value until it gives the
    // place back. The semaphore keeps claims at most `capacity` ahead of the consumer, so a
    // producer never finds its slot still unread.
    private final long[] sequence;
    private final byte[] kinds;
    private final long[] offsets;
    private final int[] sizes;
    private final long[] values;   // a write's value, a read's ticket
    private final Object[] payloads; // a read's ReadReply, a rep write's PortOut, a batch's writes
    private final AtomicLong claimed = new AtomicLong();
    private long taken; // consumer only: how many accesses the actor has taken
    private byte lastKind; // consumer only: the kind of the last one

    /** IDLE: the actor is not draining and no drain message is on its way; a producer that finds it so sends one. */
    private static final int IDLE = 0, SCHEDULED = 1;
    private final AtomicInteger schedule = new AtomicInteger(IDLE);

    private final LongAdder stalls = new LongAdder();
    private final LongAdder stalledNanos = new LongAdder();
    private final LongAdder wakeups = new LongAdder();

    public DeviceBacklog() {
        this(CAPACITY);
    }

    public DeviceBacklog(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("a backlog needs at least one place");
        this.capacity = capacity;
        int slots = Integer.highestOneBit(Math.max(1, capacity - 1)) << 1;
        this.mask = slots - 1;
        this.places = new Semaphore(capacity);
        this.sequence = new long[slots];
        this.kinds = new byte[slots];
        this.offsets = new long[slots];
        this.sizes = new int[slots];
        this.values = new long[slots];
        this.payloads = new Object[slots];
    }

    // ---- producers (vCPU threads) ----

    /**
     * Puts a write. Returns true if the actor must be told ({@link DeviceActor.DrainBacklog}):
     * it was idle. A vCPU interrupted while it waits for a place (its VM is stopping) gets the
     * exception and puts nothing.
     */
    public boolean write(long offset, int size, long value) throws InterruptedException {
        return put(WRITE, offset, size, value, null);
    }

    /** Puts a {@code rep outs}: its items written to one register in order. As {@link #write}. */
    public boolean repWrite(long offset, VmExit.PortOut out) throws InterruptedException {
        return put(REP_WRITE, offset, out.size(), 0, out);
    }

    /** Puts writes drained together from KVM's coalesced ring, in guest order. As {@link #write}. */
    public boolean batch(List<BufferedWrite> writes) throws InterruptedException {
        return put(BATCH, 0, 0, 0, writes);
    }

    /** Puts a read, answered to {@code reply} as {@code ticket} once every access put before it is done. As {@link #write}. */
    public boolean read(long offset, int size, ReadReply reply, long ticket) throws InterruptedException {
        return put(READ, offset, size, ticket, reply);
    }

    private boolean put(byte kind, long offset, int size, long value, Object payload) throws InterruptedException {
        enter();
        long n = claimed.getAndIncrement();
        int slot = (int) n & mask;
        kinds[slot] = kind;
        offsets[slot] = offset;
        sizes[slot] = size;
        values[slot] = value;
        payloads[slot] = payload;
        // Volatile (not merely release): with the volatile read of `schedule` below and the
        // consumer's volatile write of IDLE before its last look at the ring, either this access
        // is seen by that look or this producer sees IDLE and tells the actor (no access is stranded).
        SEQUENCE.setVolatile(sequence, slot, n + 1);
        if (schedule.get() != IDLE || !schedule.compareAndSet(IDLE, SCHEDULED)) return false;
        wakeups.increment();
        return true;
    }

    /** Takes a place, waiting while the backlog is full. */
    private void enter() throws InterruptedException {
        if (places.tryAcquire()) return;
        long start = System.nanoTime();
        stalls.increment();
        try {
            for (int i = 0; i < SPINS; i++) {
                Thread.onSpinWait();
                if (places.tryAcquire()) return;
            }
            places.acquire();
        } finally {
            stalledNanos.add(System.nanoTime() - start);
        }
    }

    // ---- the consumer (the device actor) ----

    /** What the device actor does with each access it takes. */
    interface Handler {
        /** Handles one access; false to stop taking more for now (the access itself is handled). */
        boolean access(byte kind, long offset, int size, long value, Object payload);
    }

    /** How {@link #drain} ended. */
    enum Drained {
        /** Nothing is left and the backlog is idle: the next access tells the actor. */
        IDLE,
        /** The handler asked to stop; the backlog stays scheduled, so no message comes until {@link #drain} runs again. */
        STOPPED,
        /** The turn's limit was reached with accesses left; the backlog stays scheduled: the actor must tell itself to go on. */
        MORE
    }

    /**
     * Takes up to {@code limit} accesses in order and hands each to {@code handler}. Each gives its
     * place back before it is handled (a model that throws must not keep it; the access is then
     * lost, as its message was before, and the rest stay for the next turn). With nothing left
     * after a read, watches the backlog for {@code spinNanos} more before it goes idle: a vCPU answered a read
     * a moment ago is usually back with its next access within microseconds (a guest polling a
     * status register), and taking that one here spares it the wake-up of an idle actor.
     */
    Drained drain(Handler handler, int limit, long spinNanos) {
        int done = 0;
        for (;;) {
            for (; done < limit; done++) {
                int slot = (int) taken & mask;
                if (isEmpty() && !arrives(slot, lastKind == READ ? spinNanos : 0)) break; // writes need no answer: no spin for them
                byte kind = kinds[slot];
                long offset = offsets[slot], value = values[slot];
                int size = sizes[slot];
                Object payload = payloads[slot];
                payloads[slot] = null;
                lastKind = kind;
                taken++;
                places.release(); // happens-before the claim that reuses this slot
                if (!handler.access(kind, offset, size, value, payload)) return Drained.STOPPED;
            }
            if (!isEmpty()) return Drained.MORE;
            schedule.set(IDLE);
            // An access put between the look above and IDLE may have seen SCHEDULED and told nobody:
            // look again, and take the turn back if so (unless its producer already did and told us).
            if (isEmpty() || !schedule.compareAndSet(IDLE, SCHEDULED)) return Drained.IDLE;
        }
    }

    /** Whether the next access lands in {@code slot} within {@code spinNanos} (consumer only). */
    private boolean arrives(int slot, long spinNanos) {
        if (spinNanos <= 0) return false;
        long until = System.nanoTime() + spinNanos;
        do {
            Thread.onSpinWait();
            if ((long) SEQUENCE.getVolatile(sequence, slot) == taken + 1) return true;
        } while (System.nanoTime() < until);
        return false;
    }

    /** Nothing put and not yet taken (consumer only). */
    private boolean isEmpty() {
        return (long) SEQUENCE.getVolatile(sequence, (int) taken & mask) != taken + 1;
    }

    /** True if a drain turn is owed: an actor restarted mid-turn must tell itself to go on. */
    boolean scheduled() {
        return schedule.get() == SCHEDULED;
    }

    // ---- metrics ----

    /** How often a vCPU found the backlog full. */
    public long stalls() {
        return stalls.sum();
    }

    /** How long vCPUs waited for a place, in total. */
    public long stalledNanos() {
        return stalledNanos.sum();
    }

    /** How often an access found the actor idle and told it (the messages the backlog cost). */
    public long wakeups() {
        return wakeups.sum();
    }

    /** Accesses waiting now (approximate while vCPUs run). */
    public int depth() {
        return capacity - places.availablePermits();
    }
}
