package io.actorvm.vmm.actors.journal;

import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.time.Duration;
import java.util.function.Function;

/**
 * How a VM actor writes its journal: a {@link VmJournal} child when the VM has a data directory,
 * nothing when it has none. Continuations come back to the VM as its own (data) messages, so the
 * VM's steps that wait for durability stay in its mailbox order.
 */
public final class JournalWriter<M> {
    /** How long a write may take on a slow host before its waiter hears it failed. */
    private static final Duration WRITE_TIMEOUT = Duration.ofSeconds(30);

    private final ActorContext<M> ctx;
    private final ActorRef<VmJournal.Command> journal;

    private JournalWriter(ActorContext<M> ctx, ActorRef<VmJournal.Command> journal) {
        this.ctx = ctx;
        this.journal = journal;
    }

    /** Spawns the journal child for {@code config} (and records its definition once) or, without a data directory, none. */
    public static <M> JournalWriter<M> of(ActorContext<M> ctx, VmConfig config) {
        if (config.dataDir() == null) return new JournalWriter<>(ctx, null);
        ActorRef<VmJournal.Command> journal = ctx.spawn(VmJournal.create(config.name()), "journal");
        journal.tell(new VmJournal.Define(VmEvents.defined(config)));
        return new JournalWriter<>(ctx, journal);
    }

    /**
     * Writes to {@code journal}, a journal the VM's owner keeps (a cluster entity is the single
     * writer of its VM's events), recording the definition there once.
     */
    public static <M> JournalWriter<M> to(ActorContext<M> ctx, ActorRef<VmJournal.Command> journal, VmConfig config) {
        journal.tell(new VmJournal.Define(VmEvents.defined(config)));
        return new JournalWriter<>(ctx, journal);
    }

    /** Persists {@code event} and forgets it (a failure is logged by the journal). */
    public void record(VmEvent event) {
        if (journal != null) journal.tell(new VmJournal.Record(event, null));
    }

    /**
     * Persists {@code event}, then sends the VM {@code next(failure)}: failure is null once the
     * event is durable (at once when there is no journal), else why it is not.
     */
    public void record(VmEvent event, Function<String, ? extends M> next) {
        if (journal == null) {
            ctx.getSelf().tell(next.apply(null));
            return;
        }
        ctx.pipeToSelf(AskPattern.<VmJournal.Command, Done>ask(journal, r -> new VmJournal.Record(event, r), WRITE_TIMEOUT,
                ctx.getSystem().scheduler()), (ok, failure) -> next.apply(failure == null ? null
                : failure.getMessage() != null ? failure.getMessage() : failure.toString()));
    }
}
