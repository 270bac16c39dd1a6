package io.actorvm.control.api;

import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.cluster.VmCluster;
import io.actorvm.vmm.actors.cluster.VmEntity;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.journal.VmEvents;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.pattern.StatusReply;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The API's view of a cluster's VMs from one node ({@code actorvm node}): a VM created through this
 * node's API is defined in the cluster when it starts and runs wherever its shard lives; a VM
 * created through another node's API is entered here when first named, driven through a local proxy
 * of its entity, its console streamed to this node.
 */
public final class ClusterVms implements VmDirectory.Remote {
    /** How long a VM's entity may take to answer (it may have to recover from the journal first). */
    static final Duration ASK_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration START_TIMEOUT = Duration.ofMinutes(2);
    /** How long a listing waits to hear where a VM lives (its node may have just gone away). */
    private static final Duration WHERE_TIMEOUT = Duration.ofSeconds(5);

    private final ActorSystem<?> system;
    private final VmCluster cluster;
    private final Path dataDir;
    private final AtomicInteger consoles = new AtomicInteger();

    public ClusterVms(ActorSystem<?> system, VmCluster cluster, Path dataDir) {
        this.system = system;
        this.cluster = cluster;
        this.dataDir = dataDir;
    }

    /**
     * The directory a node's API serves: new VMs are configured here through the usual routes and,
     * on {@code InstanceStart}, defined in the cluster and started wherever their entity lives.
     */
    public VmDirectory directory() {
        return new VmDirectory((name, console) -> MicroVm.unconfigured(name, dataDir,
                (behavior, config, checkKernel) -> launch(config, console)), this);
    }

    /** Defines the VM in the cluster (refused when the name is taken), attaches the console here, starts it. */
    private CompletionStage<ActorRef<Vm.Command>> launch(VmConfig config, ConsoleTail console) {
        String name = config.name();
        byte[] definition = VmEvents.definition(config).toByteArray();
        ActorRef<Vm.Command> proxy = cluster.proxy(name);
        // Defined from the node with the fewest VMs, where it then lives.
        return cluster.define(name, definition, ASK_TIMEOUT)
                .thenCompose(defined -> {
                    if (defined.isError()) throw new IllegalStateException(defined.getError().getMessage());
                    attachConsole(proxy, name, console);
                    return org.apache.pekko.actor.typed.javadsl.AskPattern.<Vm.Command, StatusReply<Done>>ask(proxy,
                            r -> new Vm.Start(r), START_TIMEOUT, system.scheduler());
                })
                .thenApply(started -> {
                    if (started.isError()) throw new IllegalStateException(started.getError().getMessage());
                    return proxy;
                });
    }

    private void attachConsole(ActorRef<Vm.Command> proxy, String name, ConsoleTail console) {
        var subscriber = system.systemActorOf(ConsoleHub.subscriber(console::append),
                "cluster-console-" + name + "-" + consoles.incrementAndGet(), Props.empty());
        proxy.tell(new Vm.AttachConsole(subscriber, true)); // with what the VM printed before this node looked
    }

    @Override
    public CompletionStage<List<String>> names() {
        return cluster.names();
    }

    @Override
    public CompletionStage<VmDirectory.Entry> find(String name) {
        if (!VmDirectory.NAME.matcher(name).matches()) return CompletableFuture.completedFuture(null);
        return cluster.info(name, ASK_TIMEOUT).thenApply(info -> {
            if (!info.defined()) return null;
            VmConfig config;
            try {
                config = VmEvents.config(VmEvent.Defined.parseFrom(info.definition()), dataDir);
            } catch (InvalidProtocolBufferException e) {
                throw new IllegalStateException("the definition of " + name + " is not readable: " + e.getMessage());
            }
            ActorRef<Vm.Command> proxy = cluster.proxy(name);
            ConsoleTail console = new ConsoleTail();
            attachConsole(proxy, name, console);
            return new VmDirectory.Entry(name, MicroVm.running(proxy, config), console);
        });
    }

    @Override
    public List<java.util.Map<String, String>> nodes() {
        return cluster.members().stream().map(m -> java.util.Map.of("node", m.address(), "status", m.status())).toList();
    }

    @Override
    public CompletionStage<Void> migrate(String name, String to, long downtimeMillis, int maxRounds) {
        return cluster.vm(name).<StatusReply<Done>>ask(r -> new VmEntity.Migrate(to, downtimeMillis, maxRounds, r), ASK_TIMEOUT).thenApply(reply -> {
            if (reply.isError()) throw new IllegalArgumentException(reply.getError().getMessage());
            return null;
        });
    }

    @Override
    public CompletionStage<Place> placeOf(String name) {
        return cluster.info(name, WHERE_TIMEOUT).thenApply(info -> new Place(info.node(), info.migration()));
    }
}
