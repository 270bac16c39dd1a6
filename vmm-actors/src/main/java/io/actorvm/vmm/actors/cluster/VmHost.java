package io.actorvm.vmm.actors.cluster;

import io.actorvm.persistence.KryoSerializable;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;

/**
 * One per node, found through the receptionist: defines a new VM from this node, so that the VM's
 * shard is first asked for here and starts here. (A shard with no place asked for yet goes to the
 * node that asks for it first; the place asked for through external shard allocation reaches the
 * coordinator only after a moment, and a shard started elsewhere meanwhile would be moved at once.)
 */
public final class VmHost {
    public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "actorvm-vm-host");

    public sealed interface Command {}

    /** Defines VM {@code name} (its {@code definition} a protobuf {@code Defined}) through this node. */
    public record DefineHere(String name, byte[] definition, ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /** Where this node takes live migrations ({@code host:port}), or why it takes none. */
    public record GetMigrationEndpoint(ActorRef<StatusReply<String>> replyTo) implements Command, KryoSerializable {}

    private VmHost() {}

    /** {@code migrations}: the address this node's migration listener is bound to. */
    static Behavior<Command> create(ClusterSharding sharding, java.util.concurrent.CompletionStage<java.net.InetSocketAddress> migrations) {
        return Behaviors.receive(Command.class)
                .onMessage(DefineHere.class, d -> {
                    sharding.entityRefFor(VmEntity.KEY, d.name()).tell(new VmEntity.Define(d.definition(), d.replyTo()));
                    return Behaviors.same();
                })
                .onMessage(GetMigrationEndpoint.class, g -> {
                    migrations.whenComplete((address, failure) -> g.replyTo().tell(failure != null
                            ? StatusReply.error("no migration listener: " + failure.getMessage())
                            : StatusReply.success(address.getHostString() + ":" + address.getPort())));
                    return Behaviors.same();
                })
                .build();
    }
}
