package io.actorvm.tests;

import com.typesafe.config.ConfigFactory;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.Journal;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A snapshot that fails after it has read (and so cleared) KVM's dirty log must not leave the
 * next incremental snapshot blind to the pages dirtied before it: the VM journals the failure,
 * makes the next snapshot full, and runs on. The failure is real: the page store's directory
 * is replaced by a file while the guest runs.
 */
class SnapshotFailureTest {
    @TempDir
    Path dir;

    @Test
    void aFailedSnapshotMakesTheNextOneFullAndIsJournaled() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data");
        var conf = Journal.openData(data).pekkoConfig().withFallback(ConfigFactory.load());
        ActorTestKit kit = ActorTestKit.create("snapshot-failure", conf);
        try {
            GuestRun run = new GuestRun(kit, new VmConfig("counting", GuestRun.guest("counter"), "every=100000", 16L << 20, 1)
                    .withDataDir(data));
            ActorRef<Vm.Command> vm = run.vm;
            GuestRun.Capture console = run.console;
            run.start();
            await().atMost(Duration.ofSeconds(60)).until(() -> console.text().contains("count "));

            assertTrue(snapshot(kit, vm).full());
            assertFalse(snapshot(kit, vm).full(), "an incremental one while the store is whole");

            Path pages = data.resolve("store").resolve("pages");
            Path away = data.resolve("store").resolve("pages.away");
            Files.move(pages, away);
            Files.writeString(pages, "not a directory");
            TestProbe<StatusReply<Vm.SnapshotInfo>> failed = kit.createTestProbe();
            vm.tell(new Vm.TakeSnapshot(failed.getRef()));
            StatusReply<Vm.SnapshotInfo> reply = failed.receiveMessage(Duration.ofSeconds(120));
            assertTrue(reply.isError(), "a snapshot into a broken store failed");
            assertTrue(reply.getError().getMessage().startsWith("snapshot failed: "), reply.getError().getMessage());
            Files.delete(pages);
            Files.move(away, pages);

            String lines = console.text();
            await().atMost(Duration.ofSeconds(60)).until(() -> console.text().length() > lines.length()); // the guest runs on
            Vm.SnapshotInfo third = snapshot(kit, vm);
            assertTrue(third.full(), "the snapshot after a failed one is full: " + third);
            assertNull(third.parentId());
            assertEquals(third.id(), snapshot(kit, vm).parentId(), "and the one after builds on it again");

            assertTrue(run.command(r -> new Vm.Stop("test over", r)).isSuccess());
            List<VmEvent> journal = journal(kit, "counting");
            VmEvent failure = journal.stream().filter(VmEvent::hasSnapshotFailed).findFirst().orElseThrow();
            assertTrue(failure.getSnapshotFailed().getNextFull(), failure.toString());
            assertFalse(failure.getSnapshotFailed().getReason().isBlank());
            assertEquals(4, journal.stream().filter(VmEvent::hasSnapshotTaken).count());
        } finally {
            kit.shutdownTestKit();
        }
    }

    /** Takes the VM's next snapshot (full or incremental as the VM decides); fails the test if it fails. */
    static Vm.SnapshotInfo snapshot(ActorTestKit kit, ActorRef<Vm.Command> vm) {
        TestProbe<StatusReply<Vm.SnapshotInfo>> probe = kit.createTestProbe();
        vm.tell(new Vm.TakeSnapshot(probe.getRef()));
        StatusReply<Vm.SnapshotInfo> reply = probe.receiveMessage(Duration.ofSeconds(120));
        assertTrue(reply.isSuccess(), () -> reply.getError().getMessage());
        return reply.getValue();
    }

    static List<VmEvent> journal(ActorTestKit kit, String name) throws Exception {
        JdbcReadJournal journal = PersistenceQuery.get(kit.system()).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
        return journal.currentEventsByPersistenceId(VmJournal.persistenceId(name).id(), 0, Long.MAX_VALUE)
                .runWith(org.apache.pekko.stream.javadsl.Sink.seq(), kit.system()).toCompletableFuture().get(60, TimeUnit.SECONDS)
                .stream().map(e -> (VmEvent) ((EventEnvelope) e).event()).toList();
    }
}
