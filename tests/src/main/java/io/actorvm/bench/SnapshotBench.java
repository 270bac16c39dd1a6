package io.actorvm.bench;

import io.actorvm.devices.HostSources;
import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.Journal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Snapshot figures for a guest of {@code memory} bytes (default 256 MiB) running the counter
 * guest, in one warm JVM: full snapshot time and bytes written, incremental snapshot time and
 * bytes after a little guest activity, and the time from "restore" to the guest running again
 * (Start acknowledged, and first console byte), over several restores.
 *
 * <p>Usage: {@code SnapshotBench COUNTER_ELF [memoryMiB] [restores]}
 */
public final class SnapshotBench {
    private SnapshotBench() {}

    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        Path guest = Path.of(args[0]);
        long memory = (args.length > 1 ? Long.parseLong(args[1]) : 256) << 20;
        int restores = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        Path data = Files.createTempDirectory("actorvm-snapbench");
        var conf = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.log-dead-letters = off")
                .withFallback(Journal.openData(data).pekkoConfig()).withFallback(ConfigFactory.load());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "snapbench", conf);
        try {
            VmConfig config = new VmConfig("bench", guest, "every=100000", memory, 1).withDataDir(data);
            ActorRef<Vm.Command> vm = system.systemActorOf(Vm.create(config), "vm", Props.empty());
            ask(system, vm, Vm.Start::new);
            Thread.sleep(2000);
            Vm.SnapshotInfo full = snapshot(system, vm);
            Thread.sleep(500);
            Vm.SnapshotInfo incremental = snapshot(system, vm);
            System.out.printf("guest %d MiB: full snapshot %d ms, %d pages, %d bytes written (after dedup)%n",
                    memory >> 20, full.millis(), full.pages(), full.bytesWritten());
            System.out.printf("guest %d MiB: incremental snapshot %d ms, %d pages, %d bytes written%n",
                    memory >> 20, incremental.millis(), incremental.pages(), incremental.bytesWritten());
            ask(system, vm, r -> new Vm.Stop("bench", r));

            restores(system, config, incremental.id(), restores, "from the page store (pages copied in)");
            // The same snapshot as a memory file (Firecracker's shape), restored by mapping it copy-on-write.
            var store = io.actorvm.vmm.actors.snapshot.SnapshotStore.open(data);
            Path stateFile = data.resolve("bench.state"), memFile = data.resolve("bench.mem");
            long t0 = System.nanoTime();
            io.actorvm.persistence.SnapshotFiles.export(store.pages(), store.manifests(), incremental.id(), stateFile, memFile, false);
            long t1 = System.nanoTime();
            String mapped = io.actorvm.persistence.SnapshotFiles.importFiles(store.pages(), store.manifests(), stateFile, memFile,
                    io.actorvm.vmm.actors.snapshot.VmSnapshots.newId(), true).getSnapshotId();
            long t2 = System.nanoTime();
            System.out.printf("snapshot written as a memory file in %.1f ms; loading it (state checked, memory not read) %.1f ms%n",
                    (t1 - t0) / 1e6, (t2 - t1) / 1e6);
            restores(system, config, mapped, restores, "from a memory file mapped copy-on-write");
        } finally {
            system.terminate();
        }
    }

    /** Restores snapshot {@code id} {@code restores} times (after two warm-up rounds) and prints the times to running and to the first console byte. */
    private static void restores(ActorSystem<Void> system, VmConfig config, String id, int restores, String how) throws Exception {
        List<Double> started = new ArrayList<>(), firstByte = new ArrayList<>();
        for (int i = 0; i < restores + 2; i++) {
            CompletableFuture<Long> first = new CompletableFuture<>();
            String name = id + "-" + i;
            long t0 = System.nanoTime();
            ActorRef<Vm.Command> r = system.systemActorOf(Vm.restore(config, id, false, HostSources.system()), "restored-" + name, Props.empty());
            r.tell(new Vm.AttachConsole(system.systemActorOf(ConsoleHub.subscriber(bytes -> first.complete(System.nanoTime())),
                    "console-" + name, Props.empty())));
            ask(system, r, Vm.Start::new);
            long t1 = System.nanoTime();
            long t2 = first.get(5, TimeUnit.MINUTES);
            if (i >= 2) { // two warm-up rounds
                started.add((t1 - t0) / 1e6);
                firstByte.add((t2 - t0) / 1e6);
            }
            ask(system, r, x -> new Vm.Stop("bench", x));
        }
        Collections.sort(started);
        Collections.sort(firstByte);
        System.out.printf("restore of a %d MiB guest %s in a warm JVM (%d runs): running after median %.1f ms (min %.1f), "
                        + "first console byte after median %.1f ms%n", config.memory() >> 20, how, restores,
                started.get(started.size() / 2), started.getFirst(), firstByte.get(firstByte.size() / 2));
    }

    private static Vm.SnapshotInfo snapshot(ActorSystem<Void> system, ActorRef<Vm.Command> vm) throws Exception {
        StatusReply<Vm.SnapshotInfo> r = AskPattern.<Vm.Command, StatusReply<Vm.SnapshotInfo>>ask(vm, Vm.TakeSnapshot::new,
                Duration.ofMinutes(10), system.scheduler()).toCompletableFuture().get();
        if (r.isError()) throw new IllegalStateException(r.getError().getMessage());
        return r.getValue();
    }

    private static void ask(ActorSystem<Void> system, ActorRef<Vm.Command> vm,
                            java.util.function.Function<ActorRef<StatusReply<Done>>, Vm.Command> command) throws Exception {
        StatusReply<Done> r = AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, command::apply, Duration.ofMinutes(5), system.scheduler())
                .toCompletableFuture().get();
        if (r.isError()) throw new IllegalStateException(r.getError().getMessage());
    }
}
