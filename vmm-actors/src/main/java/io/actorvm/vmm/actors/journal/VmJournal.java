package io.actorvm.vmm.actors.journal;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import io.actorvm.persistence.proto.VmEvent;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;

import java.time.Duration;

/**
 * The journal of one VM: an event-sourced entity that records what happened to it (defined,
 * started, paused, resumed, snapshot taken, restored, stopped, failed) as protobuf events. The VM
 * runtime tells it each event once the event has happened; {@code history} and restore read it
 * back. Its state is what recovery needs: whether the VM was defined and its newest snapshot.
 */
public final class VmJournal extends EventSourcedBehavior<VmJournal.Command, VmEvent, VmJournal.State> {

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /** Persist {@code event}; {@code replyTo} (may be null) hears Done once it is durable. */
    public record Record(VmEvent event, ActorRef<Done> replyTo) implements Command {}

    public record GetState(ActorRef<State> replyTo) implements Command {}

    /** Records the definition if this VM has none yet (a VM is defined once, however often it runs). */
    public record Define(VmEvent defined) implements Command {}

    /** Recovered state: how many events, whether Defined was recorded, the newest snapshot id ("" if none). */
    public record State(long events, boolean defined, String lastSnapshotId) {
        State apply(VmEvent e) {
            return new State(events + 1, defined || e.hasDefined(),
                    e.hasSnapshotTaken() ? e.getSnapshotTaken().getSnapshotId() : lastSnapshotId);
        }
    }

    public static PersistenceId persistenceId(String vmName) {
        return PersistenceId.of("vm", vmName);
    }

    public static Behavior<Command> create(String vmName) {
        return new VmJournal(persistenceId(vmName));
    }

    private VmJournal(PersistenceId id) {
        // A failed write or recovery (the database was slow or away) restarts the journal, which
        // recovers and takes events again, instead of stopping it for the rest of the VM's life.
        // The event that failed is not retried: whoever waited for it hears of the failure.
        super(id, SupervisorStrategy.restartWithBackoff(Duration.ofSeconds(1), Duration.ofSeconds(30), 0.2));
    }

    @Override
    public State emptyState() {
        return new State(0, false, "");
    }

    @Override
    public CommandHandler<Command, VmEvent, State> commandHandler() {
        return newCommandHandlerBuilder().forAnyState()
                .onCommand(Record.class, (state, r) -> Effect().persist(r.event()).thenRun(s -> {
                    if (r.replyTo() != null) r.replyTo().tell(Done.getInstance());
                }))
                .onCommand(GetState.class, (state, g) -> Effect().reply(g.replyTo(), state))
                .onCommand(Define.class, (state, d) -> state.defined() ? Effect().none() : Effect().persist(d.defined()))
                .build();
    }

    @Override
    public EventHandler<State, VmEvent> eventHandler() {
        return newEventHandlerBuilder().forAnyState().onAnyEvent(State::apply);
    }
}
