package io.actorvm.tests;

import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.net.Switches;
import io.actorvm.vmm.actors.net.VirtualSwitch;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Guests that attack the VMM's availability: a serial flood into a console nobody reads, a
 * virtio-blk reset loop with 40 MiB of reads in flight each round, a broadcast and MAC-spoofing
 * flood on the in-JVM switch. Each runs for {@link #STORM} beside a victim VM in the same JVM.
 * Checked: the heap retained after GC grows by less than {@link #HEAP_BOUND}, the hostile VM's
 * {@code Stop} is answered within {@link #STOP_BOUND}, and the victim keeps running. The victim's
 * throughput is compared with what it does beside a harmless neighbour that burns as much CPU (a
 * counter that never prints), so what is measured is what the VMM lets the attack cost others, not
 * the CPU share of a second busy vCPU; the figures are printed (and written to
 * {@code target/hostile-guests.txt}).
 */
class HostileGuestTest extends ActorTestSupport {
    static final Duration STORM = Duration.ofSeconds(Long.getLong("actorvm.storm.seconds", 60));
    static final Duration BASELINE = Duration.ofSeconds(Long.getLong("actorvm.storm.baseline.seconds", 20));
    static final long HEAP_BOUND = 64L << 20;
    static final Duration STOP_BOUND = Duration.ofSeconds(1);

    @TempDir
    Path tmp;

    @Test
    void aSerialFloodIntoABlockedConsoleIsBounded() throws Exception {
        GuestRun.assumeKvm();
        Figures f = storm("flood-serial", new VmConfig("flood-serial", GuestRun.guest("flood-serial"), "", 16L << 20, 1), "flood-serial start");
        f.check();
    }

    @Test
    void aVirtioBlockResetStormIsBounded() throws Exception {
        GuestRun.assumeKvm();
        Path disk = tmp.resolve("storm.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        Figures f = storm("reset-storm", new VmConfig("reset-storm", GuestRun.guest("reset-storm"), "every=4", 32L << 20, 1)
                .withDisks(List.of(new DiskConfig(disk, true))), "reset-storm start");
        f.check();
    }

    @Test
    void aSwitchStormIsBoundedAndItsSpoofedFramesDropped() throws Exception {
        GuestRun.assumeKvm();
        NetConfig lan = NetConfig.parse("switch=storm");
        // The victim sits on the same switch with a NIC its guest never drives: its port's queue fills.
        Figures f = storm("switch-storm", new VmConfig("switch-storm", GuestRun.guest("switch-storm"), "", 16L << 20, 1)
                .withNets(List.of(lan)), "switch-storm start", lan);
        TestProbe<VirtualSwitch.Stats> stats = kit.createTestProbe();
        Switches.get(kit.system()).named("storm").tell(new VirtualSwitch.GetStats(stats.getRef()));
        VirtualSwitch.Stats s = stats.receiveMessage(Duration.ofSeconds(10));
        f.note("switch: forwarded %d, flooded %d, dropped %d, spoofed (refused) %d".formatted(
                s.forwarded(), s.flooded(), s.dropped(), s.spoofed()));
        assertTrue(s.spoofed() > 0, "no spoofed frame was refused: " + s);
        f.check();
    }

    /** What one storm did; {@link #check()} asserts the bounds after printing everything. */
    static final class Figures {
        final String storm;
        final StringBuilder text = new StringBuilder();
        long heapGrowth, stopNanos;
        double baselineRate, stormRate;
        boolean victimAlive;

        Figures(String storm) {
            this.storm = storm;
        }

        void note(String line) {
            text.append(storm).append(": ").append(line).append('\n');
            System.out.println("hostile-guests " + storm + ": " + line);
        }

        void check() throws Exception {
            Path out = Path.of("target", "hostile-guests.txt");
            Files.createDirectories(out.getParent());
            Files.writeString(out, text, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            assertTrue(heapGrowth < HEAP_BOUND, storm + ": heap grew by " + (heapGrowth >> 20) + " MiB");
            assertTrue(stopNanos < STOP_BOUND.toNanos(), storm + ": Stop took " + stopNanos / 1_000_000 + " ms");
            assertTrue(victimAlive, storm + ": the victim stopped running");
            assertTrue(stormRate > 0, storm + ": the victim made no progress during the storm");
        }
    }

    /** A counter VM whose console lines are counted (and not kept). */
    record Counted(ActorRef<Vm.Command> vm, AtomicLong lines, CompletableFuture<Vm.Terminated> end) {}

    private Counted counter(String name, String cmdline, NetConfig... nets) {
        VmConfig config = new VmConfig(name, GuestRun.guest("counter"), cmdline, 16L << 20, 1).withNets(List.of(nets));
        ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config), name);
        AtomicLong lines = new AtomicLong();
        vm.tell(new Vm.AttachConsole(kit.spawn(ConsoleHub.subscriber(bytes -> {
            for (byte b : bytes) if (b == '\n') lines.incrementAndGet();
        }), name + "-console")));
        CompletableFuture<Vm.Terminated> end = new CompletableFuture<>();
        vm.tell(new Vm.WatchTermination(kit.spawn(org.apache.pekko.actor.typed.javadsl.Behaviors.receive(Vm.Terminated.class)
                .onMessage(Vm.Terminated.class, t -> {
                    end.complete(t);
                    return org.apache.pekko.actor.typed.javadsl.Behaviors.stopped();
                }).build(), name + "-end")));
        start(vm);
        return new Counted(vm, lines, end);
    }

    private void start(ActorRef<Vm.Command> vm) {
        TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
        vm.tell(new Vm.Start(reply.getRef()));
        StatusReply<Done> r = reply.receiveMessage(Duration.ofSeconds(60));
        assertTrue(r.isSuccess(), () -> "start failed: " + r.getError());
    }

    /** Sends Stop and returns how long the answer took. */
    private long stop(ActorRef<Vm.Command> vm) {
        TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
        long t0 = System.nanoTime();
        vm.tell(new Vm.Stop("test", reply.getRef()));
        reply.receiveMessage(Duration.ofSeconds(60));
        return System.nanoTime() - t0;
    }

    /** Lines the victim printed per second over {@code window}. */
    private static double rate(Counted victim, Duration window, Runnable everyFiveSeconds) throws InterruptedException {
        long start = victim.lines().get(), t0 = System.nanoTime();
        long end = t0 + window.toNanos();
        while (System.nanoTime() < end) {
            TimeUnit.MILLISECONDS.sleep(Math.min(5000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
            everyFiveSeconds.run();
        }
        return (victim.lines().get() - start) * 1e9 / (System.nanoTime() - t0);
    }

    private static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private Figures storm(String name, VmConfig hostileConfig, String startLine, NetConfig... victimNets) throws Exception {
        Figures f = new Figures(name);
        Counted victim = counter(name + "-victim", "every=2000", victimNets);
        // Baseline: beside a neighbour that burns a vCPU and does nothing else.
        Counted calm = counter(name + "-calm", "every=1000000000000");
        TimeUnit.SECONDS.sleep(10); // both booted, the JIT warm
        f.baselineRate = rate(victim, BASELINE, () -> {});
        stop(calm.vm());

        long heapBefore = heapAfterGc();
        long[] heapMax = {heapBefore};
        ActorRef<Vm.Command> hostile = kit.spawn(Vm.create(hostileConfig), name);
        CompletableFuture<Void> started = new CompletableFuture<>();
        CountDownLatch sinkBlocked = new CountDownLatch(1);
        StringBuilder firstOutput = new StringBuilder();
        // The hostile VM's console: takes output until the start line, then blocks until the end.
        hostile.tell(new Vm.AttachConsole(kit.spawn(ConsoleHub.subscriber(bytes -> {
            if (started.isDone()) {
                try {
                    sinkBlocked.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
            firstOutput.append(new String(bytes, java.nio.charset.StandardCharsets.US_ASCII));
            if (firstOutput.indexOf(startLine) >= 0) started.complete(null);
        }), name + "-console")));
        start(hostile);
        started.get(120, TimeUnit.SECONDS);
        f.stormRate = rate(victim, STORM, () -> heapMax[0] = Math.max(heapMax[0], heapAfterGc()));
        f.stopNanos = stop(hostile);
        long heapAfter = heapAfterGc();
        f.heapGrowth = Math.max(heapAfter, heapMax[0]) - heapBefore;
        f.victimAlive = !victim.end().isDone();
        sinkBlocked.countDown();
        f.note("heap retained before %d MiB, largest during %d MiB, after %d MiB: growth %d MiB (bound %d MiB)".formatted(
                heapBefore >> 20, heapMax[0] >> 20, heapAfter >> 20, f.heapGrowth >> 20, HEAP_BOUND >> 20));
        f.note("Stop answered in %d ms (bound %d ms)".formatted(f.stopNanos / 1_000_000, STOP_BOUND.toMillis()));
        f.note("victim %.1f lines/s beside a CPU-bound neighbour, %.1f lines/s during the storm: %.0f %%".formatted(
                f.baselineRate, f.stormRate, 100 * f.stormRate / f.baselineRate));
        stop(victim.vm());
        assertEquals(false, victim.end().isCompletedExceptionally());
        return f;
    }
}
