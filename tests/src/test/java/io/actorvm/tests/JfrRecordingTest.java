package io.actorvm.tests;

import io.actorvm.devices.HostSources;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.jfr.VmRecording;
import io.actorvm.vmm.actors.journal.Journal;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A JFR recording of a guest that runs, is snapshotted and restored holds the VMM's events. */
class JfrRecordingTest {
    @TempDir
    Path dir;

    @Test
    void sampledExitsASnapshotAndARestoreAreRecorded() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data"), file = dir.resolve("vm.jfr");
        VmConfig config = new VmConfig("jfr", GuestRun.guest("counter"), "every=500", 16L << 20, 1).withDataDir(data);
        Vm.SnapshotInfo snapshot;
        ActorTestKit kit = ActorTestKit.create("jfr", Journal.openData(data).pekkoConfig().withFallback(ConfigFactory.load()));
        try (VmRecording recording = VmRecording.start(file)) {
            GuestRun run = new GuestRun(kit, config);
            run.start();
            // Each line is ~24 exits (a status read and a write per byte): 2000 lines are ~47 samples,
            // so that none is a PortIn has a chance of about 2^-47 (200 lines failed once in ~16 runs).
            await().atMost(Duration.ofSeconds(120)).until(() -> run.console.text().lines().count() >= 2000);
            TestProbe<StatusReply<Vm.SnapshotInfo>> taken = kit.createTestProbe();
            run.vm.tell(new Vm.TakeSnapshot(true, taken.getRef()));
            snapshot = taken.receiveMessage(Duration.ofSeconds(120)).getValue();
            stop(kit, run.vm);

            ActorRef<Vm.Command> restored = kit.spawn(Vm.restore(config, snapshot.id(), false, HostSources.system()));
            TestProbe<StatusReply<Done>> started = kit.createTestProbe();
            restored.tell(new Vm.Start(started.getRef()));
            assertTrue(started.receiveMessage(Duration.ofSeconds(120)).isSuccess());
            stop(kit, restored);
        } finally {
            kit.shutdownTestKit();
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        List<RecordedEvent> exits = named(events, "actorvm.Exit");
        assertTrue(exits.size() >= 2, "sampled exits: " + exits.size());
        assertTrue(exits.stream().anyMatch(e -> e.getString("kind").equals("PortIn")), exits.toString());
        assertTrue(exits.stream().allMatch(e -> e.getInt("vcpu") == 0 && !e.getDuration().isNegative()));

        List<RecordedEvent> snapshots = named(events, "actorvm.Snapshot");
        assertEquals(1, snapshots.size(), snapshots.toString());
        RecordedEvent s = snapshots.getFirst();
        assertEquals(snapshot.id(), s.getString("id"));
        assertTrue(s.getBoolean("full"));
        assertEquals(snapshot.pages(), s.getLong("pages"));
        assertNull(s.getString("failure"));
        assertFalse(s.getDuration().isZero());

        List<RecordedEvent> restores = named(events, "actorvm.Restore");
        assertEquals(1, restores.size(), restores.toString());
        assertEquals(snapshot.id(), restores.getFirst().getString("snapshot"));
        assertNull(restores.getFirst().getString("failure"));
    }

    private static void stop(ActorTestKit kit, ActorRef<Vm.Command> vm) {
        TestProbe<StatusReply<Done>> stopped = kit.createTestProbe();
        vm.tell(new Vm.Stop("test", stopped.getRef()));
        stopped.receiveMessage(Duration.ofSeconds(60));
    }

    private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals(name)).toList();
    }
}
