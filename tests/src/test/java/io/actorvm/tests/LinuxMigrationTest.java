package io.actorvm.tests;

import io.actorvm.images.GuestImage;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.migration.MigrationLink;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Linux guest (Debian's kernel with our initramfs, from {@code guest build}) migrated live while
 * a shell loop prints a numbered tick every second: its memory goes over real TCP while it runs,
 * then it pauses for the last round and its state (vCPU registers and MSRs, LAPIC, clock, devices);
 * the snapshot the target stored runs it on, and the loop keeps printing from where it was. Needs
 * hardware virtualization (in CI, the emulated KVM host).
 */
class LinuxMigrationTest {
    static final Duration BOOT = Duration.ofSeconds(420);

    @TempDir
    Path dir;

    /** The N of each "tick N" line in {@code text}. */
    static List<Long> ticks(String text) {
        List<Long> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (l.startsWith("tick ") && l.substring(5).matches("\\d+")) out.add(Long.parseLong(l.substring(5)));
        }
        return out;
    }

    /** The kernel command line of a Linux guest whose shell loop prints {@code tick N} once a second. */
    static final String TICK_LOOP_CMDLINE = GuestImage.CMDLINE + " quiet -- "
            + LinuxBootTest.sh("i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done");

    /**
     * The Debian guest from {@code guest build}, once {@code what} (a test) can run here: KVM with
     * hardware virtualization, and apt-get to assemble the guest.
     */
    static GuestImage debianGuest(String what) throws Exception {
        GuestRun.assumeKvm();
        GuestRun.assumeHardwareVirtualization(what);
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/apt-get")),
                "no apt-get on this host: cannot assemble the Debian guest, " + what + " skipped");
        return GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.out.println("guest build: " + line));
    }

    @Test
    void aLinuxGuestRunningACommandLoopMigratesLiveAndKeepsPrinting() throws Exception {
        GuestImage guest = debianGuest("the Linux migration test");
        Path data = dir.resolve("data");
        ActorTestKit kit = LiveMigrationTest.kitOn(data, "linux-migration");
        try {
            VmConfig config = new VmConfig("linux-mover", guest.vmlinux(), TICK_LOOP_CMDLINE, 256L << 20, 1)
                    .withInitrd(guest.initramfs()).withDataDir(data);
            GuestRun run = new GuestRun(kit, config);
            run.start();
            await().atMost(BOOT).pollInterval(Duration.ofMillis(250)).until(() -> ticks(run.console.text()).size() >= 3);

            InetSocketAddress target = MigrationLink.listen(kit.system(), "127.0.0.1", SnapshotStore.open(data))
                    .toCompletableFuture().get(10, TimeUnit.SECONDS);
            long t0 = System.nanoTime();
            StatusReply<Vm.MigratedOut> moved = LiveMigrationTest.migrate(kit, run, target);
            assertTrue(moved.isSuccess(), () -> "migrated: " + moved.getError());
            Vm.MigratedOut out = moved.getValue();
            System.out.printf("linux-migration: %d rounds, %d MiB of pages sent in %.1f s%n", out.rounds(), out.bytes() >> 20,
                    (System.nanoTime() - t0) / 1e9);
            long last = ticks(run.console.text()).stream().mapToLong(Long::longValue).max().orElseThrow();
            assertTrue(run.command(r -> new Vm.Stop("moved", r)).isSuccess());

            // The target's snapshot: the same kernel and loop go on, the ticks after the last one here.
            LiveMigrationTest.Restored there = LiveMigrationTest.startFrom(kit, config, out.snapshotId(), Duration.ofSeconds(120));
            var restored = there.vm();
            GuestRun.Capture console = there.console();
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> ticks(console.text()).size() >= 3);
            List<Long> after = ticks(console.text());
            assertTrue(after.getFirst() > last - 2 && after.getFirst() <= last + 2,
                    "the loop goes on from tick " + last + " (the last one printed before the move), not from " + after.getFirst() + ": " + after);
            for (int i = 1; i < after.size(); i++) assertEquals(after.get(i - 1) + 1, after.get(i), "one tick after another: " + after);
            assertTrue(!console.text().contains("Kernel panic") && !console.text().contains("BUG:"), console.text());
            TestProbe<StatusReply<org.apache.pekko.Done>> stopped = kit.createTestProbe();
            restored.tell(new Vm.Stop("test over", stopped.getRef()));
            stopped.expectMessageClass(StatusReply.class, Duration.ofSeconds(60));
        } finally {
            kit.shutdownTestKit();
        }
    }
}
