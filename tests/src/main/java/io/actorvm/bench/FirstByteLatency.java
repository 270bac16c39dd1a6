package io.actorvm.bench;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Time from "create VM" to the guest's first serial byte, inside one warm JVM: each round spawns
 * a fresh VM actor (new KVM VM, memory, kernel load, vCPUs, devices), starts it and waits for the
 * first byte on COM1, then for the guest to end. Prints min/median/p90 over the measured rounds.
 *
 * <p>Usage: {@code FirstByteLatency KERNEL [warmup] [rounds]}
 */
public final class FirstByteLatency {
    private FirstByteLatency() {}

    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory(); // before any actor logs: no SLF4J replay warning
        Path kernel = Path.of(args[0]);
        int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        var conf = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.log-dead-letters = off")
                .withFallback(ConfigFactory.load());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "bench", conf);
        List<Double> millis = new ArrayList<>();
        try {
            for (int i = 0; i < warmup + rounds; i++) {
                CompletableFuture<Long> firstByte = new CompletableFuture<>();
                long t0 = System.nanoTime();
                VmConfig config = new VmConfig("bench-" + i, kernel, "", 16L << 20, 1);
                ActorRef<Vm.Command> vm = system.systemActorOf(Vm.create(config), "vm-" + i, org.apache.pekko.actor.typed.Props.empty());
                vm.tell(new Vm.AttachConsole(system.systemActorOf(ConsoleHub.subscriber(b -> firstByte.complete(System.nanoTime())),
                        "console-" + i, org.apache.pekko.actor.typed.Props.empty())));
                var ended = AskPattern.<Vm.Command, Vm.Terminated>ask(vm, Vm.WatchTermination::new, Duration.ofMinutes(5), system.scheduler());
                StatusReply<Done> started = AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, Vm.Start::new, Duration.ofMinutes(1),
                        system.scheduler()).toCompletableFuture().get();
                if (started.isError()) throw new IllegalStateException(started.getError().getMessage());
                long t1 = firstByte.get(5, TimeUnit.MINUTES);
                Vm.Terminated t = ended.toCompletableFuture().get(5, TimeUnit.MINUTES);
                if (t.error()) throw new IllegalStateException(t.reason());
                if (i >= warmup) millis.add((t1 - t0) / 1e6);
            }
        } finally {
            system.terminate();
        }
        Collections.sort(millis);
        System.out.printf("actorvm create-VM-to-first-serial-byte (warm JVM, %d rounds after %d warm-up): min %.2f ms, median %.2f ms, p90 %.2f ms%n",
                rounds, warmup, millis.getFirst(), millis.get(millis.size() / 2), millis.get((int) Math.min(millis.size() - 1, Math.ceil(millis.size() * 0.9) - 1)));
    }
}
