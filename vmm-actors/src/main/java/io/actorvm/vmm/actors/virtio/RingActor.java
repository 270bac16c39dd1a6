package io.actorvm.vmm.actors.virtio;

import com.google.protobuf.ByteString;
import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.Fill;
import io.actorvm.devices.proto.Request;
import io.actorvm.devices.record.ChainData;
import io.actorvm.devices.record.DeviceTape;
import io.actorvm.devices.record.HostCall;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import io.actorvm.devices.virtio.QueueHandler;
import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.io.buffering.virtq.SplitQueue;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.vmm.actors.device.GuestLogLimit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * One virtqueue, driven by its own actor. A notification (from the poller thread that watches the
 * queue's ioeventfd) makes it pop available chains and hand each to the device's
 * {@link QueueHandler} on the blocking-I/O executor, at most {@link #MAX_IN_FLIGHT} at a time (the
 * rest wait in the guest's ring: back-pressure, no unbounded mailbox). Completions come back as
 * messages; the actor publishes them in the used ring and raises the interrupt when the guest
 * wants one. A guest-side violation stops the ring and reports it; nothing escapes the actor.
 */
public final class RingActor extends AbstractBehavior<RingActor.Command> {
    public static final int MAX_IN_FLIGHT = 32;

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /** The guest notified this queue. */
    public record Notify() implements Command {}

    /** Data from the host for an inbound queue (a received frame); held while the ring is quiesced. */
    public record Deliver(byte[] data) implements Command {}

    /** Finish in-flight requests, take no new ones, then reply. */
    public record Quiesce(ActorRef<Done> replyTo) implements Command {}

    /** A request's end; with a recording, the chain, its readable bytes and what the handler took and gave. */
    private record Completed(int head, int written, Throwable failure, RecordedRequest recorded) implements Command {}

    private record RecordedRequest(DescriptorChain chain, byte[] readable, HostCall call) {}

    /** The queue's progress for a snapshot; ask after {@link Quiesce}, so nothing is in flight. */
    public record GetState(ActorRef<SplitQueue.State> replyTo) implements Command {}

    /**
     * The driver reset the device: take nothing more, publish nothing more (completions of
     * requests in flight are dropped, not written to the ring the driver gave up), and reply once
     * none is in flight.
     */
    public record Abandon(ActorRef<Done> replyTo) implements Command {}

    /** Take requests again after a {@link Quiesce} (the snapshot is done). */
    public record Unquiesce() implements Command {}

    /** Sent to {@code failures} when the guest broke the queue protocol or a request failed unexpectedly. */
    public record Failed(int queue, String reason) {}

    private final int index;
    private final SplitQueue queue;
    private final QueueHandler handler;
    /** Set instead of {@link #handler} for an inbound queue. */
    private final io.actorvm.devices.virtio.InboundHandler inbound;
    private final java.util.ArrayDeque<byte[]> pending = new java.util.ArrayDeque<>();
    private long dropped;
    private final GuestMemory memory;
    private final VirtioInterrupt interrupt;
    private final Executor io;
    private final ActorRef<Failed> failures;
    /** The device's budget of guest-caused log lines: rings come and go with resets, the budget stays. */
    private final GuestLogLimit logLimit;
    /** The device's part of a recording ({@link DeviceTape#NONE} when not recording). */
    private final DeviceTape tape;
    private final List<ActorRef<Done>> quiesceWaiters = new ArrayList<>();
    private int inFlight;
    private boolean quiescing, failed;
    private long requests;

    /** Data the host delivers while the guest has no buffers waits here, up to this many items; more are dropped. */
    public static final int MAX_PENDING = 256;

    public static Behavior<Command> create(int index, SplitQueue queue, QueueHandler handler, GuestMemory memory,
                                           VirtioInterrupt interrupt, Executor io, ActorRef<Failed> failures, GuestLogLimit logLimit) {
        return create(index, queue, handler, memory, interrupt, io, failures, logLimit, DeviceTape.NONE);
    }

    /** As above, every completed request recorded on {@code tape}. */
    public static Behavior<Command> create(int index, SplitQueue queue, QueueHandler handler, GuestMemory memory,
                                           VirtioInterrupt interrupt, Executor io, ActorRef<Failed> failures, GuestLogLimit logLimit,
                                           DeviceTape tape) {
        return Behaviors.setup(ctx -> new RingActor(ctx, index, queue, handler, null, memory, interrupt, io, failures, logLimit, tape));
    }

    /** A ring the device fills on its own schedule: buffers are used as {@link Deliver}ed data arrives. */
    public static Behavior<Command> inbound(int index, SplitQueue queue, io.actorvm.devices.virtio.InboundHandler inbound,
                                            GuestMemory memory, VirtioInterrupt interrupt, ActorRef<Failed> failures, GuestLogLimit logLimit,
                                            DeviceTape tape) {
        return Behaviors.setup(ctx -> new RingActor(ctx, index, queue, null, inbound, memory, interrupt, null, failures, logLimit, tape));
    }

    private RingActor(ActorContext<Command> ctx, int index, SplitQueue queue, QueueHandler handler,
                      io.actorvm.devices.virtio.InboundHandler inbound, GuestMemory memory,
                      VirtioInterrupt interrupt, Executor io, ActorRef<Failed> failures, GuestLogLimit logLimit, DeviceTape tape) {
        super(ctx);
        this.logLimit = logLimit;
        this.tape = tape;
        this.index = index;
        this.queue = queue;
        this.handler = handler;
        this.inbound = inbound;
        this.memory = memory;
        this.interrupt = interrupt;
        this.io = io;
        this.failures = failures;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Notify.class, n -> {
                    if (inbound != null) fillPending();
                    else drain();
                    return this;
                })
                .onMessage(Deliver.class, d -> {
                    if (inbound == null || failed) return this;
                    if (pending.size() >= MAX_PENDING) {
                        dropped++;
                        pending.pollFirst(); // the oldest goes: a full receive ring drops like a NIC's FIFO
                    }
                    pending.addLast(d.data());
                    fillPending();
                    return this;
                })
                .onMessage(Completed.class, this::onCompleted)
                .onMessage(GetState.class, g -> {
                    g.replyTo().tell(queue.state());
                    return this;
                })
                .onMessage(Unquiesce.class, u -> {
                    quiescing = false;
                    if (inbound != null) fillPending();
                    else drain();
                    return this;
                })
                .onMessage(Quiesce.class, q -> {
                    quiescing = true;
                    quiesceWaiters.add(q.replyTo());
                    replyIfQuiet();
                    return this;
                })
                .onMessage(Abandon.class, a -> {
                    failed = true; // as after a failure: no pops, no used entries, no interrupts
                    pending.clear();
                    quiesceWaiters.add(a.replyTo());
                    replyIfQuiet();
                    return this;
                })
                .build();
    }

    /**
     * Inbound: moves pending data into guest buffers while both exist; one interrupt per batch.
     * Not while quiesced: a snapshot is reading guest memory and the ring's indices, so host data
     * (a received frame) waits in {@link #pending} until {@link Unquiesce}.
     */
    private void fillPending() {
        boolean used = false;
        try {
            while (!failed && !quiescing && !pending.isEmpty()) {
                Optional<DescriptorChain> next = queue.pop();
                if (next.isEmpty()) {
                    if (queue.enableNotificationAndCheck()) continue;
                    break; // no buffers: wait for the guest's next notification
                }
                byte[] data = pending.pollFirst();
                int written = fill(data, next.get());
                queue.addUsed(next.get().head(), Math.max(written, 0));
                if (written < 0) dropped++;
                used = true;
            }
            if (used && queue.needsInterrupt()) {
                if (!tape.recording()) {
                    interrupt.raise(VirtioInterrupt.USED_BUFFER);
                } else {
                    DeviceTape.Call call = tape.begin(DeviceStep.newBuilder().setUsedInterrupt(index));
                    try {
                        interrupt.raise(VirtioInterrupt.USED_BUFFER);
                    } finally {
                        call.end();
                    }
                }
            }
        } catch (RuntimeException e) {
            fail(e.getMessage() != null ? e.getMessage() : e.toString());
        }
    }

    /** Host data into one buffer; recorded as one step when recording. */
    private int fill(byte[] data, DescriptorChain chain) {
        if (!tape.recording()) return inbound.fill(data, chain, memory);
        DeviceTape.Call call = tape.begin(DeviceStep.newBuilder().setFill(Fill.newBuilder().setQueue(index).setHead(chain.head())
                .addAllSegments(ChainData.segments(chain)).setData(ByteString.copyFrom(data))));
        try {
            int written = inbound.fill(data, chain, memory);
            call.step().getFillBuilder().setWritten(written).setWrittenCrc(ChainData.writtenCrc(chain, memory, written));
            return written;
        } catch (RuntimeException e) {
            call.threw(e);
            throw e;
        } finally {
            call.end();
        }
    }

    private void drain() {
        while (!failed && !quiescing && inFlight < MAX_IN_FLIGHT) {
            Optional<DescriptorChain> next;
            try {
                next = queue.pop();
            } catch (RuntimeException e) { // VirtQueueException, or anything a hostile ring provokes
                fail(e.getMessage() != null ? e.getMessage() : e.toString());
                return;
            }
            if (next.isEmpty()) {
                // With EVENT_IDX the driver only notifies when it passes avail_event: publish ours,
                // then look once more for buffers that raced with that (virtio 1.2, 2.7.10).
                if (queue.enableNotificationAndCheck()) continue;
                return;
            }
            DescriptorChain chain = next.get();
            inFlight++;
            requests++;
            // Recording: the readable bytes as popped, and what the handler takes and gives on its thread.
            RecordedRequest recorded = tape.recording() ? new RecordedRequest(chain, ChainData.readable(chain, memory), HostCall.recording()) : null;
            CompletableFuture<Integer> done = CompletableFuture.supplyAsync(() -> {
                if (recorded != null) recorded.call().enter();
                try {
                    return handler.process(chain, memory);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                } finally {
                    if (recorded != null) recorded.call().leave();
                }
            }, io);
            getContext().pipeToSelf(done, (written, failure) -> new Completed(chain.head(), written == null ? 0 : written,
                    failure instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : failure, recorded));
        }
    }

    private Behavior<Command> onCompleted(Completed c) {
        inFlight--;
        DeviceTape.Call call = c.recorded() == null ? null : beginRecorded(c);
        try {
            if (failed) {
                replyIfQuiet();
                return this;
            }
            if (c.failure() != null) {
                fail("request " + c.head() + ": " + c.failure().getMessage());
                replyIfQuiet();
                return this;
            }
            try {
                queue.addUsed(c.head(), c.written());
                if (queue.needsInterrupt()) {
                    interrupt.raise(VirtioInterrupt.USED_BUFFER);
                    if (call != null) call.step().getRequestBuilder().setRaised(true);
                }
            } catch (RuntimeException e) {
                fail(e.getMessage() != null ? e.getMessage() : e.toString());
            }
        } finally {
            if (call != null) call.end();
        }
        replyIfQuiet();
        drain();
        return this;
    }

    /**
     * The step of a recorded request, begun under the device's lock before the completion is
     * published (so the interrupt it raises is ordered with the driver's register accesses).
     */
    private DeviceTape.Call beginRecorded(Completed c) {
        RecordedRequest r = c.recorded();
        Request.Builder request = Request.newBuilder().setQueue(index).setHead(c.head()).addAllSegments(ChainData.segments(r.chain()))
                .setReadable(ByteString.copyFrom(r.readable()));
        if (c.failure() != null) request.setFailure(c.failure().getClass().getName());
        else request.setWritten(c.written()).setWrittenCrc(ChainData.writtenCrc(r.chain(), memory, c.written()));
        DeviceTape.Call call = tape.begin(DeviceStep.newBuilder().setRequest(request));
        call.addItems(r.call().items());
        return call;
    }

    private void fail(String reason) {
        if (failed) return;
        failed = true;
        logLimit.admit().ifPresent(left -> getContext().getLog().warn("virtqueue {}: {} (device needs reset){}", index, reason,
                GuestLogLimit.suppressedNote(left)));
        failures.tell(new Failed(index, "queue " + index + ": " + reason));
    }

    private void replyIfQuiet() {
        if (inFlight == 0 && !quiesceWaiters.isEmpty()) {
            quiesceWaiters.forEach(w -> w.tell(Done.getInstance()));
            quiesceWaiters.clear();
        }
    }
}
