package io.actorvm.vmm.actors.console;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A VM's console as a stream: what the guest writes to its serial console is published here, and
 * every attached subscriber (a terminal, a test, a web page, an actor on another node) gets each
 * chunk as {@link ConsoleOutput}, in order. Subscribers come and go while the VM runs; one that
 * stops is detached. The hub keeps the last {@link #HISTORY} bytes, for a subscriber that asks
 * to see what came before it attached.
 */
public final class ConsoleHub {

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /** Guest output, in the order the guest wrote it. */
    public record Publish(byte[] bytes) implements Command {}

    /** With {@code replay}, the subscriber first gets the history the hub holds, as one chunk. */
    public record Attach(ActorRef<ConsoleOutput> subscriber, boolean replay) implements Command {
        public Attach(ActorRef<ConsoleOutput> subscriber) {
            this(subscriber, false);
        }
    }

    /** Bytes of earlier output kept for subscribers that attach late (as much as a terminal screen scrolls back). */
    public static final int HISTORY = 64 << 10;

    public record Detach(ActorRef<ConsoleOutput> subscriber) implements Command {}

    /**
     * Replies once everything published before it has been sent on: each subscriber's mailbox then
     * holds all of it ahead of anything the caller sends that subscriber afterwards (the VM's end).
     */
    public record Flush(ActorRef<Done> replyTo) implements Command {}

    private final ActorContext<Command> ctx;
    private final Set<ActorRef<ConsoleOutput>> subscribers = new LinkedHashSet<>();
    /** The last HISTORY bytes of output, a ring; {@code published} counts the bytes put in it so far. */
    private final byte[] history = new byte[HISTORY];
    private long published;

    private ConsoleHub(ActorContext<Command> ctx) {
        this.ctx = ctx;
    }

    public static Behavior<Command> create() {
        return Behaviors.setup(ctx -> new ConsoleHub(ctx).behavior());
    }

    /**
     * A subscriber that hands each chunk of output to {@code onOutput} on a thread of its own,
     * through a bounded {@link ConsoleSink}: {@code onOutput} may block, and if it falls more than
     * {@link ConsoleSink#CAPACITY} bytes behind, output is dropped (and counted) rather than kept.
     */
    public static Behavior<ConsoleOutput> subscriber(Consumer<byte[]> onOutput) {
        return Behaviors.setup(ctx -> {
            ConsoleSink sink = new ConsoleSink(ctx.getSelf().path().name(), onOutput);
            return Behaviors.receive(ConsoleOutput.class)
                    .onMessage(ConsoleOutput.class, o -> {
                        sink.offer(o.bytes());
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, s -> {
                        sink.close();
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    private Behavior<Command> behavior() {
        return Behaviors.receive(Command.class)
                .onMessage(Publish.class, p -> {
                    ConsoleOutput out = new ConsoleOutput(p.bytes());
                    for (ActorRef<ConsoleOutput> s : subscribers) s.tell(out);
                    remember(p.bytes());
                    return Behaviors.same();
                })
                .onMessage(Attach.class, a -> {
                    if (!subscribers.add(a.subscriber())) return Behaviors.same();
                    ctx.watchWith(a.subscriber(), new Detach(a.subscriber()));
                    if (a.replay() && published > 0) a.subscriber().tell(new ConsoleOutput(recent()));
                    return Behaviors.same();
                })
                .onMessage(Detach.class, d -> {
                    if (subscribers.remove(d.subscriber())) ctx.unwatch(d.subscriber());
                    return Behaviors.same();
                })
                .onMessage(Flush.class, f -> {
                    f.replyTo().tell(Done.getInstance());
                    return Behaviors.same();
                })
                .build();
    }

    private void remember(byte[] bytes) {
        int from = Math.max(0, bytes.length - HISTORY); // only the tail of a chunk larger than the ring
        for (int i = from; i < bytes.length; ) {
            int at = (int) ((published + i - from) % HISTORY), n = Math.min(bytes.length - i, HISTORY - at);
            System.arraycopy(bytes, i, history, at, n);
            i += n;
        }
        published += bytes.length - from;
    }

    /** The history, oldest byte first. */
    private byte[] recent() {
        int length = (int) Math.min(published, HISTORY), start = (int) ((published - length) % HISTORY);
        byte[] out = new byte[length];
        int first = Math.min(length, HISTORY - start);
        System.arraycopy(history, start, out, 0, first);
        System.arraycopy(history, 0, out, first, length - first);
        return out;
    }
}
