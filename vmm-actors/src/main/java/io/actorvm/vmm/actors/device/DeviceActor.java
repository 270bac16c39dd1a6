package io.actorvm.vmm.actors.device;

import com.google.protobuf.ByteString;
import io.actorvm.devices.proto.Captured;
import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.Item;
import io.actorvm.devices.record.DeviceSteps;
import io.actorvm.devices.record.DeviceTape;
import io.actorvm.devices.record.HostCall;
import org.apache.pekko.Done;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.DeviceStates;
import io.actorvm.devices.ErrorState;
import io.actorvm.io.buffering.BufferedWrite;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.vmm.actors.jfr.DeviceErrorEvent;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import io.actorvm.vmm.actors.device.DeviceBacklog.Drained;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hosts one device model. The guest's accesses come through the device's {@link DeviceBacklog}, a
 * ring the vCPUs fill without allocating: the actor is told {@link DrainBacklog} when an access
 * finds it idle and takes every access in order, so a read always sees every write put before it.
 * The same accesses as messages ({@link Write}, {@link WriteBatch}, {@link RepWrite}, {@link Read})
 * are for tools and tests; they are not ordered with the backlog's. A model that throws is
 * restarted by supervision with the same model instance, so its state is kept and the VM runs on;
 * the failure is logged and counted.
 */
public final class DeviceActor extends AbstractBehavior<DeviceActor.Command> {

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /** The device's backlog has accesses and the actor was idle: take them (sent by the vCPU that found it so). */
    public record DrainBacklog() implements Command {
        /** The one instance: telling it allocates no message of its own. */
        public static final DrainBacklog INSTANCE = new DrainBacklog();
    }

    /** One buffered guest write. */
    public record Write(long offset, int size, long value) implements Command {}

    /** Writes drained together from KVM's coalesced ring, in guest order. */
    public record WriteBatch(List<BufferedWrite> writes) implements Command {}

    /** A {@code rep outs}: its items written to one register in order (one message for what may be thousands of writes). */
    public record RepWrite(long offset, io.actorvm.kvm.VmExit.PortOut out) implements Command {}

    /** A guest read; the answer is the value, low {@code size} bytes significant, numbered {@code ticket}. */
    public record Read(long offset, int size, ReadReply reply, long ticket) implements Command {
        /** A read answered as a {@link ReadResult} message. */
        public Read(long offset, int size, ActorRef<ReadResult> replyTo) {
            this(offset, size, ReadReply.to(replyTo), 0);
        }

        void answer(long value) {
            reply.answer(ticket, value);
        }
    }

    public record ReadResult(long value) {}

    /** Bytes from the host side for a device that takes them (the console for the UART). */
    public record HostInput(byte[] data) implements Command {}

    /** A stored state (as {@link DeviceStates} encodes it) to put back, before the guest runs. */
    public record RestoreState(byte[] state) implements Command {}

    /** The device's host side cannot go on with what the guest gave it: the device enters its error state. */
    public record Fail(String reason) implements Command {}

    /** A virtio transport's rings of before its reset have stopped (see {@link VirtioMmioTransport#draining()}). */
    public record RingsStopped() implements Command {}

    public record GetMetrics(ActorRef<Metrics> replyTo) implements Command {}

    /** With a recording: note the model's state as the VM stops (a replay compares its own). Replies either way. */
    public record RecordFinalState(ActorRef<Done> replyTo) implements Command {}

    /**
     * The model's registers for a snapshot ({@code state} null for a device that keeps none);
     * with a recording, noted as capture round {@code round}.
     */
    public record CaptureState(ActorRef<CapturedState> replyTo, long round) implements Command {
        public CaptureState(ActorRef<CapturedState> replyTo) {
            this(replyTo, 0);
        }
    }

    /** The model's state through its own codec ({@code state} null for a device that keeps none). */
    public record CapturedState(String device, byte[] state) {}

    /**
     * The model's own metrics, and what the actor counts around it: failures, coalesced batches,
     * how often (and how long in all) vCPUs waited for a place in the device's backlog, and how
     * many writes wait in it now (its mailbox depth).
     */
    public record Metrics(String device, DeviceMetrics model, long failures, long batches, long batchedWrites,
                          long backlogStalls, long backlogStalledNanos, int backlogDepth) {
        /** The model's counters by name (see {@link DeviceMetrics#counters()}). */
        public Map<String, Long> counters() {
            return model.counters();
        }
    }

    private final BusDevice model;
    private final DeviceBacklog backlog;
    private final AtomicLong failures;
    private final GuestLogLimit logLimit;
    private final DeviceTape tape;
    private final DeviceBacklog.Handler accessHandler = this::access; // made once: a drain allocates nothing
    private long batches, batchedWrites;
    private boolean unflushed; // a backlog write since the model last flushed

    /** A device actor with a backlog of its own (for tests and tools that write to it directly). */
    public static Behavior<Command> create(BusDevice model) {
        return create(model, new DeviceBacklog(), DeviceTape.NONE);
    }

    /**
     * A device actor for {@code model}, taking the guest's accesses from {@code backlog} (whose
     * producers tell it {@link DrainBacklog} as the backlog asks them to). Every call into the
     * model is a step on {@code tape} ({@link DeviceTape#NONE}: not recorded).
     */
    public static Behavior<Command> create(BusDevice model, DeviceBacklog backlog, DeviceTape tape) {
        AtomicLong failures = new AtomicLong(); // outlives restarts, like the model
        GuestLogLimit logLimit = GuestLogLimit.perDevice(); // and so does the budget of lines a guest can cause
        Behavior<Command> b = Behaviors.setup(ctx -> new DeviceActor(ctx, model, backlog, failures, logLimit, tape));
        // Pekko's own line per restart (with its stack trace) only at debug: a guest can provoke
        // restarts in a loop; the budgeted warning below says it instead.
        return Behaviors.supervise(b).onFailure(RuntimeException.class,
                SupervisorStrategy.restart().withLogLevel(org.slf4j.event.Level.DEBUG));
    }

    private DeviceActor(ActorContext<Command> context, BusDevice model, DeviceBacklog backlog, AtomicLong failures,
                        GuestLogLimit logLimit, DeviceTape tape) {
        super(context);
        this.tape = tape;
        this.model = model;
        this.backlog = backlog;
        this.failures = failures;
        this.logLimit = logLimit;
        // Restarted in the middle of a turn (the model threw): the rest of the backlog is ours to take.
        if (backlog.scheduled()) context.getSelf().tell(DrainBacklog.INSTANCE);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(DrainBacklog.class, d -> drainBacklog())
                .onMessage(Write.class, w -> {
                    if (tape.recording()) recorded(DeviceSteps.write(w.offset(), w.size(), w.value()), () -> write(w));
                    else write(w);
                    return afterWrite();
                })
                .onMessage(WriteBatch.class, batch -> {
                    batches++;
                    batchedWrites += batch.writes().size();
                    if (tape.recording()) recorded(DeviceSteps.batch(batch.writes()), () -> write(batch));
                    else write(batch);
                    return afterWrite();
                })
                .onMessage(RepWrite.class, rep -> {
                    if (tape.recording()) recorded(DeviceSteps.repWrite(rep.offset(), rep.out().size(), rep.out().count(), rep.out()::value), () -> write(rep));
                    else write(rep);
                    return afterWrite();
                })
                .onMessage(RingsStopped.class, r -> {
                    if (model instanceof VirtioMmioTransport t) {
                        if (tape.recording()) recorded(DeviceStep.newBuilder().setRingsStopped(true), () -> { t.ringsStopped(); return 0; });
                        else t.ringsStopped();
                    }
                    return this;
                })
                .onMessage(Read.class, this::onRead)
                .onMessage(HostInput.class, in -> {
                    if (model instanceof io.actorvm.devices.HostInput sink) {
                        if (tape.recording()) recorded(DeviceStep.newBuilder().setHostInput(ByteString.copyFrom(in.data())), () -> {
                            int accepted = sink.receive(in.data());
                            HostCall.current().add(Item.newBuilder().setAccepted(accepted).build());
                            return accepted;
                        });
                        else sink.receive(in.data());
                    } else logLimit.admit().ifPresent(left -> getContext().getLog().warn("device {} takes no host input; {} bytes dropped{}",
                            model.name(), in.data().length, GuestLogLimit.suppressedNote(left)));
                    return this;
                })
                .onMessage(RestoreState.class, r -> {
                    if (tape.recording()) recorded(DeviceStep.newBuilder().setRestore(ByteString.copyFrom(r.state())), () -> {
                        DeviceStates.restore(model, r.state());
                        return 0;
                    });
                    else DeviceStates.restore(model, r.state());
                    return this;
                })
                .onMessage(Fail.class, f -> {
                    DeviceErrorEvent.record(model.name(), f.reason());
                    if (model instanceof ErrorState e) {
                        if (tape.recording()) recorded(DeviceStep.newBuilder().setFail(f.reason()), () -> { e.fail(f.reason()); return 0; });
                        else e.fail(f.reason());
                    } else logLimit.admit().ifPresent(left -> getContext().getLog().warn("device {} failed: {}{}", model.name(), f.reason(),
                            GuestLogLimit.suppressedNote(left)));
                    return this;
                })
                .onMessage(CaptureState.class, c -> afterBacklog(c, () -> {
                    byte[] state = model instanceof io.actorvm.devices.Stateful<?> s ? s.encodedState() : null;
                    if (state != null && tape.recording()) {
                        tape.note(DeviceStep.newBuilder().setCaptured(Captured.newBuilder().setRound(c.round()).setState(ByteString.copyFrom(state))));
                    }
                    c.replyTo().tell(new CapturedState(model.name(), state));
                }))
                .onMessage(RecordFinalState.class, f -> afterBacklog(f, () -> {
                    if (tape.recording() && model instanceof io.actorvm.devices.Stateful<?> s) {
                        tape.note(DeviceStep.newBuilder().setFinalState(ByteString.copyFrom(s.encodedState())));
                    }
                    f.replyTo().tell(Done.getInstance());
                }))
                .onMessage(GetMetrics.class, m -> afterBacklog(m, () -> m.replyTo().tell(new Metrics(model.name(), model.metrics(),
                        failures.get(), batches, batchedWrites, backlog.stalls(), backlog.stalledNanos(), backlog.depth()))))
                .onSignal(PreRestart.class, s -> {
                    long n = failures.incrementAndGet();
                    DeviceErrorEvent.record(model.name(), "the model threw; restarted with its state kept");
                    logLimit.admit().ifPresent(left -> getContext().getLog().warn(
                            "device {} failed ({} failures so far); restarted with its state kept{}", model.name(), n,
                            GuestLogLimit.suppressedNote(left)));
                    return this;
                })
                .build();
    }

    /** Accesses held at most while a reset drains; beyond that writes are dropped and reads answer all-ones. */
    static final int DRAIN_STASH = 4096;

    /**
     * Accesses taken from the backlog per message: then the actor yields its thread (to the other
     * devices on the dispatcher) and tells itself to go on, so a flooding guest cannot hold it.
     */
    static final int BACKLOG_TURN = DeviceBacklog.CAPACITY;

    /**
     * How long the actor watches its backlog after answering a read before it goes idle: a guest
     * polling a register is back within an exit's round trip (1–2 µs on hardware), and an access
     * taken while watching costs neither a message nor waking a thread. With one CPU the vCPU
     * cannot run while the actor watches: no watching.
     */
    static final long READ_SPIN_NANOS = Long.getLong("actorvm.device-read-spin-nanos",
            Runtime.getRuntime().availableProcessors() > 1 ? 10_000 : 0);

    private Behavior<Command> drainBacklog() {
        Drained drained = backlog.drain(accessHandler, BACKLOG_TURN, READ_SPIN_NANOS);
        if (unflushed) {
            // One flush per turn: what a run of UART writes transmitted goes on as one chunk.
            unflushed = false;
            model.flush();
        }
        return switch (drained) {
            case IDLE -> this;
            case MORE -> {
                getContext().getSelf().tell(DrainBacklog.INSTANCE);
                yield this;
            }
            case STOPPED -> afterWrite(); // a reset is draining: hold the rest until its rings stop
        };
    }

    /**
     * Handles a host request that must come after every guest access put before it was sent (a
     * snapshot's capture, the VM's stop, a recording's end: the vCPUs are paused or stopped, so
     * that is at most a backlog's worth): takes them first. A reset that starts among them holds
     * the request too, until its rings have stopped.
     */
    private Behavior<Command> afterBacklog(Command request, Runnable handle) {
        Behavior<Command> next = drainBacklog();
        if (next != this) {
            getContext().getSelf().tell(request); // the holding behavior stashes it, in its turn
            return next;
        }
        handle.run();
        return this;
    }

    /** One access from the backlog; false once a write leaves a virtio transport draining its reset. */
    private boolean access(byte kind, long offset, int size, long value, Object payload) {
        switch (kind) {
            case DeviceBacklog.WRITE -> {
                // Recorded, each write is a step with its own flush, as a replay repeats it.
                if (tape.recording()) recorded(DeviceSteps.write(offset, size, value), () -> write(offset, size, value));
                else {
                    model.write(offset, size, value);
                    unflushed = true;
                }
            }
            case DeviceBacklog.READ -> {
                read(offset, size, (ReadReply) payload, value);
                return true;
            }
            case DeviceBacklog.REP_WRITE -> {
                var out = (io.actorvm.kvm.VmExit.PortOut) payload;
                if (tape.recording()) recorded(DeviceSteps.repWrite(offset, out.size(), out.count(), out::value), () -> repWrite(offset, out));
                else repWrite(offset, out);
            }
            case DeviceBacklog.BATCH -> {
                @SuppressWarnings("unchecked")
                var writes = (List<BufferedWrite>) payload;
                batches++;
                batchedWrites += writes.size();
                if (tape.recording()) recorded(DeviceSteps.batch(writes), () -> batch(writes));
                else batch(writes);
            }
            default -> throw new IllegalStateException("backlog slot of kind " + kind);
        }
        return !(model instanceof VirtioMmioTransport t && t.draining());
    }

    /**
     * After a write that reset a virtio transport: hold every further access until its old rings
     * have finished their requests and stopped, so the driver's next read waits as it would on
     * hardware and no request of the old driver completes into the new one's rings. VirtioRings
     * bounds the wait (a hung host request does not hang the reset).
     */
    private Behavior<Command> afterWrite() {
        if (!(model instanceof VirtioMmioTransport t) || !t.draining()) return this;
        return Behaviors.withStash(DRAIN_STASH, stash -> Behaviors.receive(Command.class)
                .onMessage(RingsStopped.class, r -> {
                    t.ringsStopped();
                    // The backlog stayed scheduled while held (its producers told nobody): go on with it.
                    getContext().getSelf().tell(DrainBacklog.INSTANCE);
                    return stash.unstashAll(this);
                })
                // Held accesses wait in the backlog itself (its vCPUs stall when it is full).
                .onMessage(DrainBacklog.class, d -> Behaviors.same())
                .onAnyMessage(m -> {
                    if (!stash.isFull()) {
                        stash.stash(m);
                    } else {
                        if (m instanceof Read read) read.answer(-1L);
                        logLimit.admit().ifPresent(left -> getContext().getLog().warn(
                                "device {} is resetting and holds {} accesses already; dropped one{}", model.name(), DRAIN_STASH,
                                GuestLogLimit.suppressedNote(left)));
                    }
                    return Behaviors.same();
                })
                .build());
    }

    private long write(Write w) {
        return write(w.offset(), w.size(), w.value());
    }

    private long write(WriteBatch batch) {
        return batch(batch.writes());
    }

    private long write(RepWrite rep) {
        return repWrite(rep.offset(), rep.out());
    }

    private long write(long offset, int size, long value) {
        model.write(offset, size, value);
        model.flush();
        return 0;
    }

    private long batch(List<BufferedWrite> writes) {
        for (BufferedWrite w : writes) model.write(w.offset(), w.size(), w.value());
        model.flush();
        return 0;
    }

    private long repWrite(long offset, io.actorvm.kvm.VmExit.PortOut out) {
        for (int i = 0; i < out.count(); i++) model.write(offset, out.size(), out.value(i));
        model.flush();
        return 0;
    }

    /** A call into the model as one step of the recording; what the model threw is noted and thrown on. */
    private long recorded(DeviceStep.Builder step, java.util.function.LongSupplier body) {
        DeviceTape.Call call = tape.begin(step);
        try {
            return body.getAsLong();
        } catch (RuntimeException e) {
            call.threw(e);
            throw e;
        } finally {
            call.end();
        }
    }

    private Behavior<Command> onRead(Read r) {
        read(r.offset(), r.size(), r.reply(), r.ticket());
        return this;
    }

    private void read(long offset, int size, ReadReply reply, long ticket) {
        long value;
        try {
            if (tape.recording()) {
                DeviceStep.Builder step = DeviceSteps.read(offset, size);
                value = recorded(step, () -> {
                    long v = model.read(offset, size);
                    step.getReadBuilder().setValue(v);
                    return v;
                });
            } else {
                value = model.read(offset, size);
            }
        } catch (RuntimeException e) {
            // The vCPU is blocked on this answer: give it what an absent device gives, then fail.
            reply.answer(ticket, -1L);
            throw e;
        }
        reply.answer(ticket, value);
    }
}
