package io.actorvm.vmm.actors.virtio;

import io.actorvm.devices.record.DeviceTape;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import io.actorvm.devices.virtio.VirtioDevice;
import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.io.buffering.virtq.SplitQueue;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.vmm.actors.device.GuestLogLimit;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The rings of one virtio device: spawns a {@link RingActor} per queue when the driver says
 * DRIVER_OK, stops them on reset, routes notifications, and turns a ring's failure into
 * DEVICE_NEEDS_RESET on the transport (through the transport's own actor).
 */
public final class VirtioRings extends AbstractBehavior<VirtioRings.Command> {

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /** The driver set DRIVER_OK: run these queues (null entries: queues the driver did not make ready). */
    public record Activate(List<SplitQueue.State> queues) implements Command {}

    /**
     * The driver reset the device, or it failed: the rings stop once their requests in flight are
     * done (dropped, not published), then the transport hears {@link DeviceActor.RingsStopped}.
     */
    public record Deactivate() implements Command {}

    /** Rings being abandoned finished their requests in flight (or took too long). */
    private record Abandoned(List<ActorRef<RingActor.Command>> rings) implements Command {}

    public record Notify(int queue) implements Command {}

    /** Host data for inbound queue {@code queue} (dropped while the driver has not activated the device). */
    public record Inbound(int queue, byte[] data) implements Command {}

    /** Wait for every in-flight request to finish (before guest memory goes away). */
    public record Quiesce(ActorRef<Done> replyTo) implements Command {}

    private record RingFailed(RingActor.Failed failure) implements Command {}

    /** Quiesces every ring and replies with each queue's progress (null for queues not running). */
    public record CaptureQueues(ActorRef<List<SplitQueue.State>> replyTo) implements Command {}

    /** Lets the rings take requests again after {@link CaptureQueues}. */
    public record Unquiesce() implements Command {}

    /**
     * Where device backends do their blocking I/O (disk reads and writes): a named dispatcher, so
     * the order in which requests complete, a source of non-determinism, is a setting (one thread
     * completes them in order) and one VM's disk work does not queue behind snapshots and starts.
     */
    public static final String DEVICE_IO_DISPATCHER = "actorvm.device-io-dispatcher";

    private final VirtioDevice device;
    private final VirtioInterrupt interrupt;
    private final GuestMemory memory;
    private final ActorRef<DeviceActor.Command> transport;
    private final Executor io;
    private final ActorRef<RingActor.Failed> failures;
    private final GuestLogLimit logLimit = GuestLogLimit.perDevice();
    private final List<ActorRef<RingActor.Command>> rings = new ArrayList<>();
    /** Rings of earlier activations still finishing their requests. */
    private final java.util.Set<ActorRef<RingActor.Command>> abandoning = new java.util.HashSet<>();
    /** A Deactivate waits for its answer ({@link DeviceActor.RingsStopped}). */
    private boolean stopOwed;
    private int generation;

    /**
     * {@code io}: where the device's requests run, the VM's {@link VmIoShare} of the device I/O
     * pool; {@code tape}: the device's part of a recording ({@link DeviceTape#NONE}: none).
     */
    public static Behavior<Command> create(VirtioDevice device, VirtioInterrupt interrupt, GuestMemory memory,
                                           ActorRef<DeviceActor.Command> transport, Executor io, DeviceTape tape) {
        return Behaviors.setup(ctx -> new VirtioRings(ctx, device, interrupt, memory, transport, io, tape));
    }

    private final DeviceTape tape;

    private VirtioRings(ActorContext<Command> ctx, VirtioDevice device, VirtioInterrupt interrupt, GuestMemory memory,
                        ActorRef<DeviceActor.Command> transport, Executor io, DeviceTape tape) {
        super(ctx);
        this.tape = tape;
        this.device = device;
        this.interrupt = interrupt;
        this.memory = memory;
        this.transport = transport;
        this.io = io;
        this.failures = ctx.messageAdapter(RingActor.Failed.class, RingFailed::new);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Activate.class, a -> {
                    abandonRings();
                    generation++;
                    List<SplitQueue> queues = new ArrayList<>();
                    try {
                        // The transport validated the states against guest memory already; a refusal
                        // here still puts the device in its error state rather than stopping this actor.
                        for (SplitQueue.State s : a.queues()) queues.add(s == null ? null : new SplitQueue(memory, s));
                    } catch (RuntimeException e) {
                        transport.tell(new DeviceActor.Fail("queue activation: " + e.getMessage()));
                        return this;
                    }
                    for (int i = 0; i < queues.size(); i++) {
                        SplitQueue q = queues.get(i);
                        Behavior<RingActor.Command> ring = device.isInbound(i)
                                ? RingActor.inbound(i, q, device.inbound(i), memory, interrupt, failures, logLimit, tape)
                                : RingActor.create(i, q, device.handler(i), memory, interrupt, io, failures, logLimit, tape);
                        rings.add(q == null ? null : getContext().spawn(ring, "queue-" + i + "-g" + generation));
                    }
                    // Buffers the driver made available before DRIVER_OK are served now.
                    rings.stream().filter(r -> r != null).forEach(r -> r.tell(new RingActor.Notify()));
                    return this;
                })
                .onMessage(Deactivate.class, d -> {
                    stopOwed = true;
                    abandonRings();
                    return this;
                })
                .onMessage(Abandoned.class, a -> {
                    a.rings().forEach(r -> getContext().stop(r));
                    abandoning.removeAll(a.rings());
                    tellStoppedIfDone();
                    return this;
                })
                .onMessage(Notify.class, n -> {
                    if (n.queue() >= 0 && n.queue() < rings.size() && rings.get(n.queue()) != null) {
                        rings.get(n.queue()).tell(new RingActor.Notify());
                    }
                    return this;
                })
                .onMessage(Inbound.class, in -> {
                    if (in.queue() >= 0 && in.queue() < rings.size() && rings.get(in.queue()) != null) {
                        rings.get(in.queue()).tell(new RingActor.Deliver(in.data()));
                    }
                    return this;
                })
                .onMessage(RingFailed.class, f -> {
                    String reason = f.failure().reason();
                    transport.tell(new DeviceActor.Fail(reason));
                    return this;
                })
                .onMessage(CaptureQueues.class, c -> {
                    var scheduler = getContext().getSystem().scheduler();
                    List<ActorRef<RingActor.Command>> current = new ArrayList<>(rings);
                    CompletableFuture<List<SplitQueue.State>> states = CompletableFuture.completedFuture(new ArrayList<>());
                    for (var r : current) {
                        states = states.thenCompose(list -> {
                            if (r == null) {
                                list.add(null);
                                return CompletableFuture.completedFuture(list);
                            }
                            return AskPattern.<RingActor.Command, Done>ask(r, RingActor.Quiesce::new, Duration.ofSeconds(30), scheduler)
                                    .thenCompose(d -> AskPattern.<RingActor.Command, SplitQueue.State>ask(r, RingActor.GetState::new,
                                            Duration.ofSeconds(30), scheduler))
                                    .thenApply(s -> {
                                        list.add(s);
                                        return list;
                                    });
                        });
                    }
                    states.whenComplete((list, err) -> c.replyTo().tell(err == null ? list : null));
                    return this;
                })
                .onMessage(Unquiesce.class, u -> {
                    rings.stream().filter(r -> r != null).forEach(r -> r.tell(new RingActor.Unquiesce()));
                    return this;
                })
                .onMessage(Quiesce.class, q -> {
                    List<CompletableFuture<Done>> all = new ArrayList<>();
                    for (var r : rings) {
                        if (r == null) continue;
                        all.add(AskPattern.<RingActor.Command, Done>ask(r, RingActor.Quiesce::new, Duration.ofSeconds(30),
                                getContext().getSystem().scheduler()).toCompletableFuture());
                    }
                    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
                            .whenComplete((ok, err) -> q.replyTo().tell(Done.getInstance()));
                    return this;
                })
                .build();
    }

    /**
     * Takes the running rings out of service: they finish what is in flight (a reset must not let
     * a request of the old driver write guest memory after the new one has started, nor two
     * generations of rings run at once), then stop; then the transport is told. At most
     * {@link #ABANDON_TIMEOUT}: a request stuck on a hung host file does not hang the guest's reset.
     */
    private void abandonRings() {
        List<ActorRef<RingActor.Command>> current = rings.stream().filter(r -> r != null).toList();
        rings.clear();
        if (current.isEmpty()) {
            tellStoppedIfDone();
            return;
        }
        abandoning.addAll(current);
        var scheduler = getContext().getSystem().scheduler();
        List<CompletableFuture<Done>> drained = new ArrayList<>();
        for (var r : current) {
            drained.add(AskPattern.<RingActor.Command, Done>ask(r, RingActor.Abandon::new, ABANDON_TIMEOUT, scheduler)
                    .toCompletableFuture().exceptionally(timedOut -> Done.getInstance()));
        }
        getContext().pipeToSelf(CompletableFuture.allOf(drained.toArray(CompletableFuture[]::new)), (ok, err) -> new Abandoned(current));
    }

    static final Duration ABANDON_TIMEOUT = Duration.ofSeconds(30);

    /**
     * Answers the transport's {@link Deactivate}s, once no ring is still finishing. Only a
     * Deactivate is answered: an Activate also retires old rings, but nobody waits for that, and
     * an answer then would end the wait of a reset that follows it.
     */
    private void tellStoppedIfDone() {
        if (stopOwed && abandoning.isEmpty()) {
            stopOwed = false;
            transport.tell(new DeviceActor.RingsStopped());
        }
    }
}
