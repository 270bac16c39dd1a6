package io.actorvm.vmm.actors.cluster;

import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.ArrayList;
import java.util.List;

/**
 * The journal of a VM that arrived by live migration and runs before its entity exists on this
 * node (the shard follows the VM a moment later): its events wait here, in order, until the
 * entity adopts the runner ({@link Forward}), then go to the entity, as every later one does. A
 * runner waits for "restored" to be journaled before its vCPUs run: here it is answered at once.
 * The move itself is already in the journal (the source's commit names the snapshot and the
 * epoch), so a node that dies before the entity adopts the VM leaves a journal that sends it on
 * from that snapshot.
 */
final class JournalBuffer {
    /** From now on, events go to {@code journal} (the entity's): the waiting ones first. */
    record Forward(ActorRef<VmJournal.Command> journal) {}

    private JournalBuffer() {}

    /** Takes the journal's commands ({@code narrow} it for the runner) and {@link Forward}. */
    static Behavior<Object> create() {
        return waiting(new ArrayList<>());
    }

    private static Behavior<Object> waiting(List<VmEvent> events) {
        return Behaviors.receive(Object.class)
                .onMessage(VmJournal.Record.class, r -> {
                    events.add(r.event());
                    if (r.replyTo() != null) r.replyTo().tell(Done.getInstance());
                    return Behaviors.same();
                })
                .onMessage(VmJournal.Define.class, d -> Behaviors.same()) // the entity's journal has the definition
                .onMessage(Forward.class, f -> {
                    for (VmEvent e : events) f.journal().tell(new VmJournal.Record(e, null));
                    return forwarding(f.journal());
                })
                .build();
    }

    private static Behavior<Object> forwarding(ActorRef<VmJournal.Command> journal) {
        return Behaviors.receive(Object.class)
                .onMessage(Forward.class, f -> forwarding(f.journal()))
                .onMessage(VmJournal.Command.class, c -> {
                    journal.tell(c);
                    return Behaviors.same();
                })
                .build();
    }
}
