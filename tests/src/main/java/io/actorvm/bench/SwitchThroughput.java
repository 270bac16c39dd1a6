package io.actorvm.bench;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Frames per second between two VMs over the in-JVM switch, in one warm JVM: the net-peer guests
 * ping-pong N 78-byte frames (one in flight). Each size runs a few times; the rate is the
 * difference in frames over the difference of median times, so boot cost cancels out.
 *
 * <p>Usage: {@code SwitchThroughput NET_PEER_ELF [small] [large] [runs]}
 */
public final class SwitchThroughput {
    private SwitchThroughput() {}

    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        Path guest = Path.of(args[0]);
        int small = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        int large = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        int runs = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        var conf = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.log-dead-letters = off").withFallback(ConfigFactory.load());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "bench", conf);
        try {
            run(system, guest, small, 0); // warm-up
            double tSmall = median(system, guest, small, runs), tLarge = median(system, guest, large, runs);
            double rate = (large - small) / ((tLarge - tSmall) / 1000);
            System.out.printf("switch round trips (net-peer, one frame in flight): %d frames %.0f ms, %d frames %.0f ms -> %.0f round trips/s (%.2f ms each)%n",
                    small, tSmall, large, tLarge, rate, 1000 / rate);
        } finally {
            system.terminate();
        }
    }

    private static double median(ActorSystem<Void> system, Path guest, int frames, int runs) throws Exception {
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) t[i] = run(system, guest, frames, i + 1);
        java.util.Arrays.sort(t);
        return t[runs / 2];
    }

    private static int counter;

    /** Runs one a/b pair; returns ms from start until a finished. */
    private static double run(ActorSystem<Void> system, Path guest, int frames, int round) throws Exception {
        String lan = "bench-" + (++counter);
        long t0 = System.nanoTime();
        CompletableFuture<Vm.Terminated> b = start(system, new VmConfig("b" + counter, guest, "role=b frames=" + frames, 16L << 20, 1)
                .withNets(List.of(NetConfig.parse("switch=" + lan))));
        CompletableFuture<Vm.Terminated> a = start(system, new VmConfig("a" + counter, guest, "role=a frames=" + frames, 16L << 20, 1)
                .withNets(List.of(NetConfig.parse("switch=" + lan))));
        Vm.Terminated ta = a.get(10, TimeUnit.MINUTES);
        double ms = (System.nanoTime() - t0) / 1e6;
        Vm.Terminated tb = b.get(1, TimeUnit.MINUTES);
        if (ta.exitStatus() != 0 || tb.exitStatus() != 0) throw new IllegalStateException("net-peer failed: " + ta + " / " + tb);
        return ms;
    }

    private static CompletableFuture<Vm.Terminated> start(ActorSystem<Void> system, VmConfig config) {
        ActorRef<Vm.Command> vm = system.systemActorOf(Vm.create(config), config.name(), Props.empty());
        var ended = AskPattern.<Vm.Command, Vm.Terminated>ask(vm, Vm.WatchTermination::new, Duration.ofMinutes(10), system.scheduler());
        vm.tell(new Vm.Start(system.ignoreRef()));
        return ended.toCompletableFuture();
    }
}
