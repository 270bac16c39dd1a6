package io.actorvm.control.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.actorvm.control.api.ApiEndpoint;
import io.actorvm.control.api.ClusterVms;
import io.actorvm.control.api.ControlApi;
import io.actorvm.control.api.ServeApi;
import io.actorvm.vmm.actors.cluster.HostPort;
import io.actorvm.vmm.actors.cluster.VmCluster;
import io.actorvm.vmm.actors.journal.Journal;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code actorvm node --data-dir DIR --cluster-port P [--seed HOST:PORT...] [--journal URL]
 * [--api-sock PATH]}: a JVM that joins a Pekko cluster (Artery TCP) and hosts its share of the
 * cluster's VMs, each a sharded entity keyed by its name. Alone (no seed) it forms a cluster of one
 * with the embedded H2 journal of its data directory; nodes of one cluster share a PostgreSQL
 * journal. Its API is {@code serve}'s, over the whole cluster: {@code GET /vms} lists every VM with
 * the node it lives on; a VM created here starts wherever its shard is.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Join (or form) a cluster of actorvm nodes and host a share of its VMs; its API serves the whole cluster.")
final class NodeCommand implements Callable<Integer> {
    @Mixin
    ApiOptions api;

    @Option(names = "--data-dir", required = true, paramLabel = "DIR", description = "this node's snapshots (and, without --journal, its H2 journal)")
    Path dataDir;

    @Option(names = "--cluster-port", defaultValue = "2551", paramLabel = "P", description = "this node's cluster (Artery TCP) port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "HOST", description = "the address other nodes reach this one at (default ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--seed", paramLabel = "HOST:PORT", description = "a node of the cluster to join (repeatable); none: this node starts a cluster")
    List<String> seeds = new ArrayList<>();

    @Option(names = "--journal", paramLabel = "URL", description = "the shared journal of a cluster: jdbc:postgresql://HOST:PORT/DB (default: H2 in --data-dir)")
    String journal;

    @Option(names = "--down-after", defaultValue = "7s", paramLabel = "DURATION",
            description = "how long a node may stay unreachable before the cluster downs it and runs its VMs elsewhere (default ${DEFAULT-VALUE})")
    String downAfter;

    @Option(names = "--heartbeat-pause", defaultValue = "10s", paramLabel = "DURATION",
            description = "how long a node's heartbeats may pause (a long GC, a host short of CPU) before other nodes call it unreachable (default ${DEFAULT-VALUE})")
    String heartbeatPause;

    @Option(names = "--join-timeout", defaultValue = "off", paramLabel = "DURATION",
            description = "give up and exit (status 3) when the seeds have not let this node join within DURATION, for a supervisor to start it again (default ${DEFAULT-VALUE}: keep trying)")
    String joinTimeout;

    @Option(names = "--migration-port", defaultValue = "0", paramLabel = "P",
            description = "the port this node takes live migrations on, on --host (default: any free port)")
    int migrationPort;

    @Option(names = "--migration-advertise", paramLabel = "HOST:PORT",
            description = "where sources connect to migrate VMs here, when not --host and --migration-port (a proxy or NAT in front of them)")
    String migrationAdvertise;

    @Option(names = "--journal-user", defaultValue = "postgres", paramLabel = "USER") String journalUser;

    @Option(names = "--journal-password-file", paramLabel = "FILE", description = "the journal password, first line of FILE (default: none)")
    Path journalPasswordFile;

    /** Set by {@link StartUpTrainingCommand} only: the node starts where KVM is missing (its VMs then cannot). */
    boolean withoutKvm;

    /** Once serving: what SIGTERM does (close the API, leave the cluster, wait until the node is down). Safe to run twice. */
    volatile Runnable leave;

    @Override
    public Integer call() throws Exception {
        ApiEndpoint endpoint;
        Config config;
        try {
            endpoint = api.endpoint();
            if (endpoint == null) throw new IllegalArgumentException("node needs --api-sock PATH (or --api tcp:HOST:PORT)");
            if (port < 1 || port > 65535) throw new IllegalArgumentException("--cluster-port must be 1 to 65535, not " + port);
            Files.createDirectories(dataDir);
            checkDuration("--down-after", downAfter);
            checkDuration("--heartbeat-pause", heartbeatPause);
            if (!joinTimeout.equals("off")) checkDuration("--join-timeout", joinTimeout);
            if (migrationPort < 0 || migrationPort > 65535) throw new IllegalArgumentException("--migration-port must be 0 to 65535, not " + migrationPort);
            if (migrationAdvertise != null) HostPort.parse(migrationAdvertise, "--migration-advertise");
            config = clusterConfig(host, port, seeds, downAfter, heartbeatPause)
                    .withFallback(ConfigFactory.parseString("pekko.cluster.shutdown-after-unsuccessful-join-seed-nodes = " + joinTimeout))
                    .withFallback(ConfigFactory.empty().withValue("actorvm.migration.port", ConfigValueFactory.fromAnyRef(migrationPort))
                            .withValue("actorvm.migration.advertise", ConfigValueFactory.fromAnyRef(migrationAdvertise == null ? "" : migrationAdvertise)))
                    .withFallback(journal().pekkoConfig());
        } catch (IllegalArgumentException | IllegalStateException | IOException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        String kvm = HostCheck.kvmProblem();
        if (kvm != null && !withoutKvm) {
            System.err.println("actorvm: " + kvm);
            return Main.USAGE_ERROR;
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "actorvm", config.withFallback(VmRunner.systemConfig(null)));
        VmCluster cluster = VmCluster.start(system, dataDir.toAbsolutePath());
        ControlApi.Binding binding;
        try {
            binding = ServeApi.bind(system, new ClusterVms(system, cluster, dataDir.toAbsolutePath()).directory(), endpoint);
        } catch (IOException e) {
            System.err.println("actorvm: cannot serve the API on " + endpoint + ": " + e.getMessage());
            system.terminate();
            return Main.USAGE_ERROR;
        }
        System.err.println("actorvm: node " + VmCluster.nodeName(system) + " serving on " + binding.address());
        // SIGTERM or Ctrl-C: the node leaves the cluster; its running VMs are snapshotted and go on on the others.
        Runnable leave = () -> {
            binding.close();
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().orTimeout(180, TimeUnit.SECONDS).exceptionally(x -> null).join();
        };
        this.leave = leave;
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(leave));
        system.getWhenTerminated().toCompletableFuture().join();
        // Pekko ends a node the seeds did not let join within --join-timeout (a seed that
        // quarantined this incarnation never will): a new process is a new incarnation.
        if (CoordinatedShutdown.get(system).getShutdownReason().filter(CoordinatedShutdown.clusterJoinUnsuccessfulReason()::equals).isPresent()) {
            System.err.println("actorvm: node " + VmCluster.nodeName(system) + " could not join the cluster through "
                    + String.join(", ", seeds) + " within " + joinTimeout + "; start it again");
            return JOIN_FAILED;
        }
        return 0;
    }

    /** The exit status of a node that gave up joining ({@code --join-timeout}). */
    static final int JOIN_FAILED = 3;

    private Journal journal() throws IOException {
        if (journal == null) return Journal.openData(dataDir);
        if (!journal.startsWith("jdbc:postgresql://")) throw new IllegalArgumentException("--journal takes jdbc:postgresql://HOST:PORT/DB, not " + journal);
        String password = journalPasswordFile == null ? "" : Files.readAllLines(journalPasswordFile).stream().findFirst().orElse("");
        Journal j = Journal.postgres(journal, journalUser, password);
        j.ensureSchema();
        return j;
    }

    /** A duration as HOCON reads it, checked before it is put into the configuration. */
    private static void checkDuration(String option, String value) {
        if (!value.matches("\\d{1,4}(ms|s|m)")) throw new IllegalArgumentException(option + " takes a duration such as 7s or 500ms, not " + value);
    }

    /**
     * A cluster member at {@code host:port} joining {@code seeds} (itself when there are none).
     * Downing: Pekko's split-brain resolver, keep-majority: when the cluster splits, the side with
     * more nodes (with equal halves, the side with the lowest address) stays, the other downs
     * itself and its VMs stop, so a VM never runs on both sides.
     */
    static Config clusterConfig(String host, int port, List<String> seeds, String downAfter, String heartbeatPause) {
        List<String> seedNodes = new ArrayList<>();
        for (String s : seeds.isEmpty() ? List.of(host + ":" + port) : seeds) {
            seedNodes.add("\"pekko://actorvm@" + HostPort.parse(s, "--seed") + "\"");
        }
        return ConfigFactory.parseString("""
                pekko.actor.provider = cluster
                pekko.actor.allow-java-serialization = off
                pekko.remote.artery.transport = tcp
                pekko.remote.artery.canonical.hostname = "%s"
                pekko.remote.artery.canonical.port = %d
                pekko.cluster.seed-nodes = [%s]
                # Extensions (serialization first: every serializer with its registrations) are made as
                # a node starts; on a host short of CPU that outlasted Pekko's 20 s, and a node that
                # could not serialize its handshake never joined.
                pekko.actor.creation-timeout = 60s
                pekko.cluster.downing-provider-class = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
                pekko.cluster.split-brain-resolver.active-strategy = keep-majority
                # A node whose JVM stalls (a long GC, a host short of CPU) is not taken for dead at once:
                # heartbeats may pause this long before it is called unreachable (Pekko's default: 3 s;
                # ours, --heartbeat-pause: 10 s).
                pekko.cluster.failure-detector.acceptable-heartbeat-pause = %s
                # Unreachable this long (once the failure detector has called it so), a node is downed
                # and its VMs restart elsewhere. Pekko's default, 20 s, is meant for large clusters.
                pekko.cluster.split-brain-resolver.stable-after = %s
                # A VM's entity lives as long as its VM: never passivated for being idle.
                pekko.cluster.sharding.passivation.strategy = none
                # Where each VM is asked to live is distributed data read from and written to a majority:
                # wait for it longer than Pekko's 5 s on a loaded host.
                pekko.cluster.sharding.external-shard-allocation-strategy.client-timeout = 30s
                # A VM asked to move (vm migrate) moves at the coordinator's next rebalance: look often
                # (a live migration's guest is paused from its commit until its shard has moved), and
                # hear of places asked for soon (subscribers of distributed data: Pekko's 500 ms).
                pekko.cluster.sharding.rebalance-interval = 200ms
                pekko.cluster.distributed-data.notify-subscribers-interval = 100ms
                # A node that leaves snapshots its running VMs before handing them over: give that time.
                pekko.cluster.sharding.handoff-timeout = 150s
                pekko.coordinated-shutdown.phases.cluster-sharding-shutdown-region.timeout = 150s
                # Which VMs each shard holds, kept in the journal: a shard that moves starts them all.
                # Reading that back can take more than Pekko's 2 s on a loaded host; the shard would
                # then back off and start later.
                pekko.cluster.sharding.waiting-for-state-timeout = 20s
                pekko.cluster.sharding.remember-entities = on
                pekko.cluster.sharding.remember-entities-store = eventsourced
                """.formatted(host.replace("\"", ""), port, String.join(", ", seedNodes), heartbeatPause, downAfter));
    }
}
