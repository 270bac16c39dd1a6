package io.actorvm.tests;

import io.actorvm.devices.HostSources;
import com.typesafe.config.ConfigFactory;
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

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Device registers survive a snapshot: the echo guest programs the UART (receive interrupts on)
 * and the PIC, then sleeps in HLT. Restored from a snapshot into a new VM, it must wake on the
 * first input byte — which only happens if the UART's interrupt enable came back with it.
 */
class DeviceStateRestoreTest {
    @TempDir
    Path data;

    @Test
    void anInterruptDrivenGuestKeepsWorkingAfterRestore() {
        GuestRun.assumeKvm();
        var conf = Journal.openData(data).pekkoConfig().withFallback(ConfigFactory.load());
        ActorTestKit kit = ActorTestKit.create("device-state", conf);
        try {
            VmConfig config = new VmConfig("echo", GuestRun.guest("echo"), "", 16L << 20, 1).withDataDir(data);
            ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
            GuestRun.Capture before = GuestRun.Capture.attach(kit, vm);
            TestProbe<StatusReply<Done>> done = kit.createTestProbe();
            vm.tell(new Vm.Start(done.getRef()));
            assertTrue(done.receiveMessage(Duration.ofSeconds(60)).isSuccess());
            await().atMost(Duration.ofSeconds(60)).until(() -> before.text().contains("echo ready\n"));

            TestProbe<StatusReply<Vm.SnapshotInfo>> snap = kit.createTestProbe();
            vm.tell(new Vm.TakeSnapshot(snap.getRef()));
            StatusReply<Vm.SnapshotInfo> taken = snap.receiveMessage(Duration.ofSeconds(120));
            assertTrue(taken.isSuccess(), () -> taken.getError().getMessage());
            vm.tell(new Vm.Stop("snapshot taken", done.getRef()));
            done.receiveMessage(Duration.ofSeconds(60));

            VmConfig restoredConfig = new VmConfig("echo", GuestRun.guest("echo"), "", 16L << 20, 1).withDataDir(data);
            ActorRef<Vm.Command> restored = kit.spawn(Vm.restore(restoredConfig, taken.getValue().id(), false, HostSources.system()));
            GuestRun.Capture after = GuestRun.Capture.attach(kit, restored);
            restored.tell(new Vm.Start(done.getRef()));
            assertTrue(done.receiveMessage(Duration.ofSeconds(60)).isSuccess());
            restored.tell(new Vm.ConsoleInput("hi".getBytes(StandardCharsets.US_ASCII)));
            await().atMost(Duration.ofSeconds(60)).until(() -> after.text().contains("hi"));
            restored.tell(new Vm.ConsoleInput("q".getBytes(StandardCharsets.US_ASCII)));
            Vm.Terminated t = after.awaitEnd(Duration.ofSeconds(60));
            assertEquals(0, t.exitStatus(), t.reason() + "\n" + after.text());
            assertTrue(after.text().matches("(?s)hi\necho irqs=\\d+ bytes=2\n"), after.text());
        } finally {
            kit.shutdownTestKit();
        }
    }
}
