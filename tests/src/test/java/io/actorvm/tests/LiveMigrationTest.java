package io.actorvm.tests;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.Journal;
import io.actorvm.vmm.actors.migration.MigrationLink;
import io.actorvm.vmm.actors.migration.PreCopy;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A running counter guest migrated live by its VM actor ({@link Vm.MigrateOut}) over real TCP:
 * refused and cut links leave it running where it is, counting on; a migration that completes
 * leaves it paused here, and the snapshot the target stored runs it on from where it was.
 */
class LiveMigrationTest {
    @TempDir
    Path dir;

    /** A VM started from a migration's snapshot, and its console. */
    record Restored(org.apache.pekko.actor.typed.ActorRef<Vm.Command> vm, GuestRun.Capture console) {}

    /** Starts {@code config}'s VM from snapshot {@code snapshotId} (the target's), its console captured; asserts that it started within {@code wait}. */
    static Restored startFrom(ActorTestKit kit, VmConfig config, String snapshotId, Duration wait) {
        var vm = kit.spawn(Vm.restore(config, snapshotId, false, io.actorvm.devices.HostSources.system()));
        GuestRun.Capture console = GuestRun.Capture.attach(kit, vm);
        TestProbe<StatusReply<org.apache.pekko.Done>> started = kit.createTestProbe();
        vm.tell(new Vm.Start(started.getRef()));
        assertTrue(started.expectMessageClass(StatusReply.class, wait).isSuccess(), "started from snapshot " + snapshotId);
        return new Restored(vm, console);
    }

    static StatusReply<Vm.MigratedOut> migrate(ActorTestKit kit, GuestRun run, InetSocketAddress to) {
        TestProbe<StatusReply<Vm.MigratedOut>> reply = kit.createTestProbe();
        TestProbe<PreCopy.Progress> progress = kit.createTestProbe();
        run.vm.tell(new Vm.MigrateOut(to, "127.0.0.1:1", 1, PreCopy.Settings.DEFAULT, progress.getRef(), reply.getRef()));
        @SuppressWarnings("unchecked")
        StatusReply<Vm.MigratedOut> r = reply.expectMessageClass(StatusReply.class, Duration.ofSeconds(120));
        return r;
    }

    private static long lastCount(GuestRun run) {
        return ClusterNodeTest.counts(run.console.text()).stream().mapToLong(Long::longValue).max().orElse(-1);
    }

    /** The guest counts past where it was: it runs. */
    private static void awaitCountingOn(GuestRun run) {
        long before = lastCount(run);
        await().atMost(Duration.ofSeconds(60)).until(() -> lastCount(run) > before);
    }

    /** A test kit whose VMs journal into {@code data}'s H2 database. */
    static ActorTestKit kitOn(Path data, String name) {
        return ActorTestKit.create(name, Journal.openData(data).pekkoConfig().withFallback(ConfigFactory.load()));
    }

    @Test
    void aRunningGuestMovesLiveAndFailedMovesLeaveItRunning() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data");
        ActorTestKit kit = kitOn(data, "live-migration");
        try {
            VmConfig config = new VmConfig("mover", GuestRun.guest("counter"), "every=100000", 16L << 20, 1).withDataDir(data);
            GuestRun run = new GuestRun(kit, config);
            run.start();
            awaitCountingOn(run);

            // Nobody listens: refused, and the guest runs on.
            int closed;
            try (ServerSocket s = new ServerSocket(0)) {
                closed = s.getLocalPort();
            }
            StatusReply<Vm.MigratedOut> refused = migrate(kit, run, new InetSocketAddress("127.0.0.1", closed));
            assertTrue(refused.isError(), "a migration to a closed port fails");
            awaitCountingOn(run);

            InetSocketAddress target = MigrationLink.listen(kit.system(), "127.0.0.1", SnapshotStore.open(data))
                    .toCompletableFuture().get(10, TimeUnit.SECONDS);
            // A link cut (a reset, as a killed peer or a cut cable gives) inside the first round's
            // pages, and one after everything was sent, before the target's answer: the migration
            // fails and the guest runs on here.
            for (long cutAfter : new long[] {16 << 10, Long.MAX_VALUE}) {
                try (ServerSocket proxy = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                    Thread relay = Thread.ofPlatform().start(() -> {
                        try (Socket in = proxy.accept(); Socket out = new Socket(target.getAddress(), target.getPort())) {
                            byte[] buf = new byte[4 << 10];
                            long passed = 0;
                            while (passed < cutAfter) {
                                int n = in.getInputStream().read(buf);
                                if (n < 0) break;
                                out.getOutputStream().write(buf, 0, n);
                                passed += n;
                            }
                            in.setSoLinger(true, 0);
                            out.setSoLinger(true, 0);
                        } catch (Exception ignored) {
                            // what the migration makes of it is the test
                        }
                    });
                    StatusReply<Vm.MigratedOut> cut = migrate(kit, run, new InetSocketAddress("127.0.0.1", proxy.getLocalPort()));
                    relay.join();
                    assertTrue(cut.isError(), "a migration over a link cut after " + cutAfter + " bytes fails");
                }
                awaitCountingOn(run);
            }
            // The target kept nothing of the failed ones.
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                try (var files = java.nio.file.Files.list(data.resolve("migrations"))) {
                    return files.map(Path::toString).toList();
                }
            }, List::isEmpty);

            // Through: paused here, its state in the target's snapshot.
            StatusReply<Vm.MigratedOut> moved = migrate(kit, run, target);
            assertTrue(moved.isSuccess(), () -> "migrated: " + moved.getError());
            Vm.MigratedOut out = moved.getValue();
            System.out.println("live-migration: " + out.rounds() + " rounds, " + (out.bytes() >> 10) + " KiB of pages sent");
            TestProbe<Vm.Status> status = kit.createTestProbe();
            run.vm.tell(new Vm.GetStatus(status.getRef()));
            assertEquals(Vm.State.PAUSED, status.receiveMessage().state());
            long last = lastCount(run);
            Thread.sleep(500);
            assertEquals(last, lastCount(run), "the source's guest counts no more once migrated out");
            assertTrue(run.command(r -> new Vm.Stop("moved", r)).isSuccess());

            // The target built the machine while the pages came, and the restore takes it.
            Path memoryFile = Path.of(SnapshotStore.open(data).manifests().read(out.snapshotId()).getMemoryFile());
            assertTrue(io.actorvm.vmm.actors.PreparedMachine.isKept(memoryFile), "a machine was built ahead for " + memoryFile);
            // ... and loaded with the VM's state while the target stored it (a failed load closes it: then this waits in vain).
            await().atMost(Duration.ofSeconds(60)).until(() -> io.actorvm.vmm.actors.PreparedMachine.isLoaded(memoryFile));

            // The target's snapshot runs the guest on from where it was, not from zero.
            Restored there = startFrom(kit, config, out.snapshotId(), Duration.ofSeconds(60));
            assertFalse(io.actorvm.vmm.actors.PreparedMachine.isKept(memoryFile), "the restore took the machine built ahead");
            var restored = there.vm();
            GuestRun.Capture console = there.console();
            await().atMost(Duration.ofSeconds(60)).until(() -> !ClusterNodeTest.counts(console.text()).isEmpty());
            List<Long> after = ClusterNodeTest.counts(console.text());
            assertTrue(after.getFirst() > last, "the moved guest counts on from " + last + ", not from " + after.getFirst());
            TestProbe<StatusReply<org.apache.pekko.Done>> stopped = kit.createTestProbe();
            restored.tell(new Vm.Stop("test over", stopped.getRef()));
            stopped.expectMessageClass(StatusReply.class, Duration.ofSeconds(60));
        } finally {
            kit.shutdownTestKit();
        }
    }

    @Test
    void aStopDuringAMigrationEndsItAndStopsTheVm() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data");
        ActorTestKit kit = kitOn(data, "live-migration-stop");
        // A target that takes every byte and never answers: the source waits, its guest paused for the last round.
        try (ServerSocket silent = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread sink = Thread.ofPlatform().daemon().start(() -> {
                try (Socket in = silent.accept()) {
                    in.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
                    Thread.sleep(Long.MAX_VALUE);
                } catch (Exception ignored) {
                    // the test ends it
                }
            });
            GuestRun run = new GuestRun(kit, new VmConfig("stopper", GuestRun.guest("counter"), "every=100000", 16L << 20, 1).withDataDir(data));
            run.start();
            awaitCountingOn(run);
            TestProbe<StatusReply<Vm.MigratedOut>> reply = kit.createTestProbe();
            run.vm.tell(new Vm.MigrateOut(new InetSocketAddress("127.0.0.1", silent.getLocalPort()), "127.0.0.1:1", 1,
                    PreCopy.Settings.DEFAULT, kit.<PreCopy.Progress>createTestProbe().getRef(), reply.getRef()));
            Thread.sleep(1000);
            long t0 = System.nanoTime();
            assertTrue(run.command(r -> new Vm.Stop("stopped mid-migration", r)).isSuccess(), "the stop is done");
            long stopMillis = (System.nanoTime() - t0) / 1_000_000;
            // Not after the link's 30 s idle timeout: the stop ends the wait for the target's answer.
            assertTrue(stopMillis < 25_000, "the stop took " + stopMillis + " ms");
            @SuppressWarnings("unchecked")
            StatusReply<Vm.MigratedOut> r = reply.expectMessageClass(StatusReply.class, Duration.ofSeconds(30));
            assertTrue(r.isError(), "the migration failed");
            assertEquals("stopped mid-migration", run.awaitTermination(Duration.ofSeconds(30)).reason());
            sink.interrupt();
        } finally {
            kit.shutdownTestKit();
        }
    }
}
