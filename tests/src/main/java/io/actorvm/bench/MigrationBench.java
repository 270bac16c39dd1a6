package io.actorvm.bench;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.journal.Journal;
import io.actorvm.vmm.actors.migration.MigrationLink;
import io.actorvm.vmm.actors.migration.PreCopy;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Live migration of one guest between two "nodes" in one JVM (two actor systems, each with its
 * own data directory and journal, as two nodes have): the source's VM streams to the target's
 * migration listener over loopback TCP, then the target restores the snapshot it stored and runs
 * the guest. Per run: the total time (migration asked → guest running on the target), the
 * downtime (guest paused at the source → running on the target), rounds and MiB of pages sent.
 * The cluster's switch-over (journal commit, shard hand-over) is not in these figures:
 * {@code ClusterNodeTest} prints the downtime through a whole cluster.
 *
 * <p>Usage: {@code MigrationBench KERNEL MEM_MIB CMDLINE READY_LINE WORK_DIR [runs] [downtime_ms]}
 */
public final class MigrationBench {
    private MigrationBench() {}

    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        Path kernel = Path.of(args[0]);
        long mem = Long.parseLong(args[1]) << 20;
        String cmdline = args[2], ready = args[3];
        Path work = Path.of(args[4]);
        int runs = args.length > 5 ? Integer.parseInt(args[5]) : 3;
        Duration downtime = Duration.ofMillis(args.length > 6 ? Long.parseLong(args[6]) : 50);
        ActorSystem<Void> source = system("source", work.resolve("source"));
        ActorSystem<Void> target = system("target", work.resolve("target"));
        try {
            InetSocketAddress listener = MigrationLink.listen(target, "127.0.0.1", SnapshotStore.open(work.resolve("target")))
                    .toCompletableFuture().get(30, TimeUnit.SECONDS);
            List<long[]> results = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                String name = "mig-" + i;
                VmConfig from = new VmConfig(name, kernel, cmdline, mem, 1).withDataDir(work.resolve("source"));
                ActorRef<Vm.Command> vm = source.systemActorOf(Vm.create(from), name, Props.empty());
                CompletableFuture<Void> isReady = new CompletableFuture<>();
                StringBuilder console = new StringBuilder();
                vm.tell(new Vm.AttachConsole(source.systemActorOf(ConsoleHub.subscriber(b -> {
                    synchronized (console) {
                        console.append(new String(b, StandardCharsets.US_ASCII));
                        if (console.indexOf(ready) >= 0) isReady.complete(null);
                    }
                }), name + "-console", Props.empty())));
                ask(source, vm, Vm.Start::new);
                isReady.get(5, TimeUnit.MINUTES);
                Thread.sleep(1000); // the guest's dirtying at its steady rate

                List<PreCopy.Progress> progress = new ArrayList<>();
                ActorRef<PreCopy.Progress> progressRef = source.systemActorOf(Behaviors.receive(PreCopy.Progress.class)
                        .onMessage(PreCopy.Progress.class, p -> {
                            synchronized (progress) {
                                progress.add(p);
                            }
                            return Behaviors.same();
                        }).build(), name + "-progress", Props.empty());
                long t0 = System.currentTimeMillis();
                StatusReply<Vm.MigratedOut> answer = AskPattern.<Vm.Command, StatusReply<Vm.MigratedOut>>ask(vm, r -> new Vm.MigrateOut(listener,
                                "source", 1, new PreCopy.Settings(downtime, 30), progressRef, r), Duration.ofMinutes(10), source.scheduler())
                        .toCompletableFuture().get();
                if (answer.isError()) throw new IllegalStateException("migration failed: " + answer.getError().getMessage());
                Vm.MigratedOut out = answer.getValue();
                long answered = System.currentTimeMillis();
                // The source stops (not waited for: its guest runs no more), the target runs the guest on.
                vm.tell(new Vm.Stop("migrated", source.ignoreRef()));
                VmConfig to = new VmConfig(name, kernel, cmdline, mem, 1).withDataDir(work.resolve("target"));
                ActorRef<Vm.Command> moved = target.systemActorOf(Vm.restore(to, out.snapshotId(), false,
                        io.actorvm.devices.HostSources.system()), name, Props.empty());
                ask(target, moved, Vm.Start::new);
                long running = System.currentTimeMillis();
                // Of "to run there": building the machine and wiring its devices (the rest is the journal's "restored" and the actors' start).
                long restoreMillis = AskPattern.<Vm.Command, Vm.Stats>ask(moved, Vm.GetStats::new, Duration.ofSeconds(30), target.scheduler())
                        .toCompletableFuture().get().lifecycle().restoreNanos() / 1_000_000;
                long dirtyRate;
                synchronized (progress) {
                    dirtyRate = progress.isEmpty() ? 0 : progress.getLast().dirtyBytesPerSecond();
                }
                results.add(new long[] {running - t0, running - out.pausedAtMillis(), out.rounds(), out.bytes(), dirtyRate});
                System.out.printf("run %d: total %d ms, downtime %d ms (%d ms to the target's answer, %d ms to run there, of which %d ms restore), %d rounds,"
                                + " %.1f MiB sent, dirty rate %.1f MiB/s%n", i, running - t0, running - out.pausedAtMillis(),
                        answered - out.pausedAtMillis(), running - answered, restoreMillis, out.rounds(), out.bytes() / 1048576.0, dirtyRate / 1048576.0);
                ask(target, moved, r -> new Vm.Stop("bench over", r));
                deleteMemoryFiles(work.resolve("target").resolve("migrations"));
            }
            results.sort(java.util.Comparator.comparingLong(r -> r[1]));
            long[] median = results.get(results.size() / 2);
            System.out.printf("actorvm median (by downtime) of %d: total %d ms, downtime %d ms, %d rounds, %.1f MiB sent%n",
                    runs, median[0], median[1], median[2], median[3] / 1048576.0);
        } finally {
            source.terminate();
            target.terminate();
        }
    }

    private static ActorSystem<Void> system(String name, Path data) {
        var conf = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.log-dead-letters = off")
                .withFallback(Journal.openData(data).pekkoConfig()).withFallback(ConfigFactory.load());
        return ActorSystem.create(Behaviors.empty(), name, conf);
    }

    private static void ask(ActorSystem<?> system, ActorRef<Vm.Command> vm,
                            java.util.function.Function<ActorRef<StatusReply<Done>>, Vm.Command> command) throws Exception {
        StatusReply<Done> reply = AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, command::apply, Duration.ofMinutes(5), system.scheduler())
                .toCompletableFuture().get();
        if (reply.isError()) throw new IllegalStateException(reply.getError().getMessage());
    }

    /** Each run's memory file (the guest's RAM) goes once the run is over: the runs fit the disk. */
    private static void deleteMemoryFiles(Path dir) throws java.io.IOException {
        if (!Files.isDirectory(dir)) return;
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) Files.deleteIfExists(p);
        }
    }
}
