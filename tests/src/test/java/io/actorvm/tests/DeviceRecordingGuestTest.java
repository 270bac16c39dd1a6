package io.actorvm.tests;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.HostSources;
import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.Item;
import io.actorvm.devices.record.DeviceLogReader;
import io.actorvm.devices.record.Recorded;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.record.DeviceRecordings;
import io.actorvm.vmm.actors.journal.Journal;
import io.actorvm.vmm.actors.record.DeviceReplay;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A VM's device traffic recorded under KVM replays without KVM: blk-check's disk requests (the
 * disk image deleted first: the recording holds every read) and the echo guest's interrupt-driven
 * console, with zero divergence; and a UART changed on purpose is caught at the first step where
 * it acts differently.
 */
class DeviceRecordingGuestTest extends ActorTestSupport {
    @TempDir
    Path dir;

    @Test
    void blkCheckRecordedUnderKvmReplaysWithoutKvmAndWithoutItsDisk() throws Exception {
        GuestRun.assumeKvm();
        byte[] data = new byte[128 * 1024];
        new Random(7).nextBytes(data);
        Path img = Files.write(dir.resolve("disk.img"), data);
        Path recording = DeviceRecordings.newFile(dir, "blk-rec");
        VmConfig config = new VmConfig("blk-rec", GuestRun.guest("blk-check"), "", 64L << 20, 1)
                .withDisks(List.of(new DiskConfig(img, false)));
        GuestRun run = new GuestRun(kit, config, HostSources.system().recordingTo(recording));
        run.start();
        Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(120));
        assertEquals(0, t.exitStatus(), t.reason() + "\n" + run.console.text());
        assertTrue(run.console.text().contains("blk write done\n"), run.console.text());
        Files.delete(img);

        // The CLI, as a user runs it: the newest recording of the VM in the data directory.
        Process p = new ProcessBuilder(GuestRun.cli("replay-devices", "--data-dir", dir.toString(), "--name", "blk-rec"))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("no divergence"), out);

        DeviceReplay.Result r = DeviceReplay.run(recording);
        assertNull(r.divergence(), () -> String.valueOf(r.divergence()));
        long requests = count(recording, DeviceStep::hasRequest);
        long diskReads = count(recording, s -> s.hasRequest() && s.getItemsList().stream().anyMatch(Item::hasDiskRead));
        long diskWrites = count(recording, s -> s.hasRequest() && s.getItemsList().stream().anyMatch(Item::hasDiskWrite));
        assertTrue(requests >= 3 && diskReads >= 1 && diskWrites == 1, requests + " requests, " + diskReads + " with disk reads, "
                + diskWrites + " with a disk write");
        assertEquals(7, r.stepsByDevice().size(), "the PC devices and the disk: " + r.stepsByDevice());
        assertEquals(7, r.statesChecked(), "every device's state at the end is checked");
    }

    @Test
    void theEchoGuestReplaysFromItsStartAndFromASnapshotAndAUartWithItsInterruptUnwiredIsCaught() throws Exception {
        GuestRun.assumeKvm();
        Path recording = DeviceRecordings.newFile(dir, "echo-rec");
        var conf = Journal.openData(dir).pekkoConfig().withFallback(ConfigFactory.load());
        ActorTestKit snapshotting = ActorTestKit.create("device-recording", conf);
        String snapshot;
        try {
            GuestRun run = new GuestRun(snapshotting, new VmConfig("echo-rec", GuestRun.guest("echo"), "", 16L << 20, 1).withDataDir(dir),
                    HostSources.system().recordingTo(recording));
            run.start();
            await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().contains("echo ready\n"));
            run.vm.tell(new Vm.ConsoleInput("abc".getBytes(StandardCharsets.US_ASCII)));
            await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().contains("abc"));
            TestProbe<StatusReply<Vm.SnapshotInfo>> snap = snapshotting.createTestProbe();
            run.vm.tell(new Vm.TakeSnapshot(snap.getRef()));
            StatusReply<Vm.SnapshotInfo> taken = snap.receiveMessage(Duration.ofSeconds(120));
            assertTrue(taken.isSuccess(), () -> taken.getError().getMessage());
            snapshot = taken.getValue().id();
            run.vm.tell(new Vm.ConsoleInput("dq".getBytes(StandardCharsets.US_ASCII)));
            Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(60));
            assertEquals(0, t.exitStatus(), t.reason() + "\n" + run.console.text());
        } finally {
            snapshotting.shutdownTestKit();
        }

        DeviceReplay.Result r = DeviceReplay.run(recording);
        assertNull(r.divergence(), () -> String.valueOf(r.divergence()));
        assertEquals(2, count(recording, DeviceStep::hasHostInput), "both inputs were recorded");
        assertEquals(6 + 6, r.statesChecked(), "each device's state at the snapshot and at the end");

        // From the snapshot: the devices start as captured, the "dq" part is replayed.
        DeviceReplay.Result from = DeviceReplay.run(recording, snapshot, Map.of());
        assertNull(from.divergence(), () -> String.valueOf(from.divergence()));
        long afterCapture = r.steps() - firstStep(recording, DeviceStep::hasCaptured);
        assertTrue(from.skipped() > 0 && from.steps() - from.skipped() <= afterCapture + 6,
                from.skipped() + " skipped of " + from.steps() + "; " + afterCapture + " after the first capture");
        assertEquals(6, from.statesChecked(), "the final states");

        // The deliberate bug: a UART that never drives its interrupt line.
        long firstInterrupt = firstStep(recording, s -> s.getItemsList().stream().anyMatch(Item::hasIrqLevel));
        UnaryOperator<BusDevice> unwired = m -> new Serial16550(Recorded.console(null), level -> {});
        DeviceReplay.Result changed = DeviceReplay.run(recording, null, Map.of("serial", unwired));
        assertFalse(changed.matched());
        assertEquals(firstInterrupt, changed.divergence().step(), changed.divergence().toString());
        assertEquals("serial", changed.divergence().device());
        assertTrue(changed.divergence().detail().contains("interrupt line"), changed.divergence().toString());

        // A snapshot the recording does not have is a one-line error naming the ones it has.
        var e = org.junit.jupiter.api.Assertions.assertThrows(io.actorvm.devices.record.DeviceLogException.class,
                () -> DeviceReplay.run(recording, "0000", Map.of()));
        assertTrue(e.getMessage().contains("has no snapshot 0000") && e.getMessage().contains(snapshot), e.getMessage());
    }

    private static long count(Path recording, Predicate<DeviceStep> p) throws IOException {
        try (DeviceLogReader in = DeviceLogReader.open(recording)) {
            long n = 0;
            for (DeviceStep s = in.next(); s != null; s = in.next()) if (p.test(s)) n++;
            return n;
        }
    }

    private static long firstStep(Path recording, Predicate<DeviceStep> p) throws IOException {
        try (DeviceLogReader in = DeviceLogReader.open(recording)) {
            long n = 0;
            for (DeviceStep s = in.next(); s != null; s = in.next()) {
                n++;
                if (p.test(s)) return n;
            }
        }
        throw new AssertionError("no such step in " + recording);
    }
}
