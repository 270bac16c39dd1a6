package io.actorvm.vmm.actors.net;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.Props;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The virtual switches of one actor system, by name: VMs that name the same switch are on one
 * segment. In a cluster the segment spans the nodes: each node's switch of that name links with the others.
 */
public final class Switches implements Extension {
    private static final ExtensionId<Switches> ID = new ExtensionId<>() {
        @Override
        public Switches createExtension(ActorSystem<?> system) {
            return new Switches(system);
        }
    };

    private final ActorSystem<?> system;
    private final VirtualSwitch.Policy policy;
    private final boolean spanNodes;
    private final ConcurrentHashMap<String, ActorRef<VirtualSwitch.Command>> switches = new ConcurrentHashMap<>();

    private Switches(ActorSystem<?> system) {
        this.system = system;
        this.policy = VirtualSwitch.Policy.of(system.settings().config());
        this.spanNodes = system.settings().classicSettings().ProviderClass().equals(org.apache.pekko.cluster.ClusterActorRefProvider.class.getName());
    }

    public static Switches get(ActorSystem<?> system) {
        return system.registerExtension(ID);
    }

    /** What every switch of this actor system enforces ({@code actorvm.switch}). */
    public VirtualSwitch.Policy policy() {
        return policy;
    }

    /** The switch called {@code name}, created on first use. */
    public ActorRef<VirtualSwitch.Command> named(String name) {
        return switches.computeIfAbsent(name, n -> system.systemActorOf(VirtualSwitch.create(n, policy, spanNodes),
                "switch-" + java.net.URLEncoder.encode(n, java.nio.charset.StandardCharsets.UTF_8), Props.empty()));
    }
}
