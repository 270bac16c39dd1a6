package io.actorvm.tests;

import io.actorvm.devices.HostSources;
import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.Journal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A virtio-blk guest in the middle of its I/O is snapshotted (its ring quiesces: the request in
 * flight completes first), stopped, and restored into a new VM, which finishes the same run: the
 * transport registers and each queue's indices came back with it.
 */
class VirtioSnapshotTest {
    @TempDir
    Path dir;

    @Test
    void aBlockGuestFinishesItsIoAfterSnapshotAndRestore() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data");
        byte[] disk = new byte[4 << 20];
        new Random(7).nextBytes(disk);
        Path img = Files.write(dir.resolve("disk.img"), disk);
        var conf = Journal.openData(data).pekkoConfig().withFallback(ConfigFactory.load());
        ActorTestKit kit = ActorTestKit.create("virtio-snapshot", conf);
        try {
            String cmdline = "mode=seqread bs=65536 bytes=268435456";
            VmConfig config = new VmConfig("blk", GuestRun.guest("blk-bench"), cmdline, 64L << 20, 1)
                    .withDisks(List.of(new DiskConfig(img, true))).withDataDir(data);
            ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
            GuestRun.Capture before = GuestRun.Capture.attach(kit, vm);
            TestProbe<StatusReply<Done>> done = kit.createTestProbe();
            vm.tell(new Vm.Start(done.getRef()));
            assertTrue(done.receiveMessage(Duration.ofSeconds(60)).isSuccess());
            await().atMost(Duration.ofSeconds(60)).until(() -> before.text().contains("blk-bench start"));
            Thread.sleep(500); // in the middle of the reads

            TestProbe<StatusReply<Vm.SnapshotInfo>> snap = kit.createTestProbe();
            vm.tell(new Vm.TakeSnapshot(snap.getRef()));
            StatusReply<Vm.SnapshotInfo> taken = snap.receiveMessage(Duration.ofSeconds(120));
            assertTrue(taken.isSuccess(), () -> taken.getError().getMessage());
            vm.tell(new Vm.Stop("snapshot taken", done.getRef()));
            done.receiveMessage(Duration.ofSeconds(60));
            assertTrue(!before.text().contains("blk-bench mode="), "the first VM was stopped before it finished: " + before.text());

            // inspect queues: the ring's progress, and what the driver had queued that the device had not taken.
            try (var s = io.actorvm.vmm.actors.snapshot.SnapshotInspection.open(
                    io.actorvm.vmm.actors.snapshot.SnapshotStore.open(data), taken.getValue().id())) {
                String queues = String.join("\n", s.queues());
                assertTrue(queues.startsWith("virtio-blk-0:\n  queue 0: size "), queues);
                assertTrue(java.util.regex.Pattern.compile("last_avail_idx [1-9]\\d*, used_idx [1-9]").matcher(queues).find(),
                        "requests went through before the snapshot: " + queues);
                assertTrue(queues.contains("    pending chain ") || queues.contains("    no pending chains"), queues);
            }

            VmConfig restoredConfig = new VmConfig("blk", GuestRun.guest("blk-bench"), cmdline, 64L << 20, 1)
                    .withDisks(List.of(new DiskConfig(img, true))).withDataDir(data);
            ActorRef<Vm.Command> restored = kit.spawn(Vm.restore(restoredConfig, taken.getValue().id(), false, HostSources.system()));
            GuestRun.Capture after = GuestRun.Capture.attach(kit, restored);
            restored.tell(new Vm.Start(done.getRef()));
            assertTrue(done.receiveMessage(Duration.ofSeconds(60)).isSuccess());
            Vm.Terminated t = after.awaitEnd(Duration.ofSeconds(180));
            assertEquals(0, t.exitStatus(), t.reason() + "\n" + after.text());
            assertTrue(after.text().contains("blk-bench mode=seqread requests=4096 bytes=268435456"), after.text());
        } finally {
            kit.shutdownTestKit();
        }
    }
}
