package io.actorvm.bench;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.console.ConsoleHub;
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
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Many small VMs in one JVM: {@code count} counter guests of 16 MiB each, created and started one
 * after another and left running (each printing now and then), then stopped. Prints the creation
 * rate, the process's resident memory per VM beyond the first (RSS, which includes the guest RAM
 * each one touched: the counter guest touches a few hundred KiB), threads per VM, and the time
 * to stop them all.
 *
 * <p>Usage: {@code DensityBench COUNTER_ELF [count]}
 */
public final class DensityBench {
    private DensityBench() {}

    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        Path kernel = Path.of(args[0]);
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        var conf = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.log-dead-letters = off").withFallback(ConfigFactory.load());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "density", conf);
        List<ActorRef<Vm.Command>> vms = new ArrayList<>();
        try {
            long rss0 = rssKib(), threads0 = Thread.activeCount();
            long rssAfterFirst = 0;
            long t0 = System.nanoTime();
            for (int i = 0; i < count; i++) {
                CompletableFuture<Void> firstByte = new CompletableFuture<>();
                VmConfig config = new VmConfig("d" + i, kernel, "every=5000000", 16L << 20, 1);
                ActorRef<Vm.Command> vm = system.systemActorOf(Vm.create(config), "vm-" + i, Props.empty());
                vm.tell(new Vm.AttachConsole(system.systemActorOf(ConsoleHub.subscriber(b -> firstByte.complete(null)), "console-" + i,
                        Props.empty())));
                StatusReply<Done> started = AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, Vm.Start::new, Duration.ofMinutes(1),
                        system.scheduler()).toCompletableFuture().get();
                if (started.isError()) throw new IllegalStateException("VM " + i + ": " + started.getError().getMessage());
                vms.add(vm);
                if (i == 0) {
                    firstByte.get(5, TimeUnit.MINUTES);
                    rssAfterFirst = rssKib();
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Thread.sleep(2000);
            long rss = rssKib();
            System.out.printf("%d VMs of 16 MiB created and started in %.2f s: %.1f VMs/s%n", count, seconds, count / seconds);
            System.out.printf("RSS: %d MiB before, %d MiB with one VM, %d MiB with %d: %.2f MiB per VM beyond the first (guest RAM touched included)%n",
                    rss0 >> 10, rssAfterFirst >> 10, rss >> 10, count, (rss - rssAfterFirst) / 1024.0 / Math.max(1, count - 1));
            System.out.printf("threads: %d before, %d with %d VMs (%.1f per VM)%n", threads0, Thread.activeCount(), count,
                    (Thread.activeCount() - threads0) / (double) count);
            long s0 = System.nanoTime();
            List<CompletableFuture<StatusReply<Done>>> stops = new ArrayList<>();
            for (ActorRef<Vm.Command> vm : vms) {
                stops.add(AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, r -> new Vm.Stop("bench", r), Duration.ofMinutes(2),
                        system.scheduler()).toCompletableFuture());
            }
            CompletableFuture.allOf(stops.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);
            System.out.printf("stopped all %d in %.2f s%n", count, (System.nanoTime() - s0) / 1e9);
        } finally {
            system.terminate();
        }
    }

    private static long rssKib() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", ""));
        }
        return -1;
    }
}
