package io.actorvm.vmm.actors.record;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.VmControl;
import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.Item;
import io.actorvm.devices.record.DeviceLogException;
import io.actorvm.devices.record.DeviceLogReader;
import io.actorvm.devices.record.DeviceRecorder;
import io.actorvm.devices.record.DeviceTape;
import io.actorvm.devices.record.Recorded;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.device.DeviceBacklog;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A recording made through real device actors (the PC devices, no KVM), replayed: it matches; a
 * model changed on purpose is caught at the first step where it acts differently; a damaged file
 * is a one-line error.
 */
class DeviceReplayTest {
    static final ActorTestKit kit = ActorTestKit.create();
    static final int LSR = 5, IER = 1, MCR = 4;

    @TempDir
    static Path dir;
    static Path recording;
    static final ByteArrayOutputStream console = new ByteArrayOutputStream();

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    @BeforeAll
    static void record() throws Exception {
        recording = dir.resolve("unit.avmdlog");
        List<Boolean> irq = new ArrayList<>();
        VmControl control = new VmControl() {
            public void requestReset(String reason) {}
            public void requestPowerOff() {}
            public void requestExit(int status) {}
        };
        DeviceRecorder recorder = DeviceRecorder.create(recording, "unit", 16L << 20);
        List<ActorRef<DeviceActor.Command>> actors = new ArrayList<>();
        Map<String, ActorRef<DeviceActor.Command>> byName = new java.util.HashMap<>();
        for (DeviceModels.Pc pc : DeviceModels.pc(Recorded.console(console::write), Recorded.irqLine(irq::add), Recorded.irqLine(irq::add), Recorded.control(control),
                Recorded.clock(Clock.fixed(Instant.parse("2026-12-03T05:00:00Z"), ZoneOffset.UTC)))) {
            DeviceTape tape = recorder.register(DeviceModels.logged(pc.model()));
            var ref = kit.spawn(DeviceActor.create(pc.model(), new DeviceBacklog(), tape));
            actors.add(ref);
            byName.put(pc.model().name(), ref);
        }
        recorder.start();
        var serial = byName.get("serial");
        TestProbe<DeviceActor.ReadResult> reads = kit.createTestProbe();
        // The messages a vCPU would send; a write holds a backlog place the actor gives back, so none is taken here.
        serial.tell(new DeviceActor.Write(MCR, 1, 0x08));          // OUT2: the IRQ reaches the PIC
        serial.tell(new DeviceActor.Write(IER, 1, 0x01));          // received-data interrupt
        for (byte b : "hi\n".getBytes()) serial.tell(new DeviceActor.Write(0, 1, b));
        serial.tell(new DeviceActor.HostInput("ok".getBytes()));   // raises IRQ 4
        serial.tell(new DeviceActor.Read(LSR, 1, reads.getRef()));
        serial.tell(new DeviceActor.Read(0, 1, reads.getRef()));
        serial.tell(new DeviceActor.Read(0, 1, reads.getRef()));   // the line goes low
        serial.tell(new DeviceActor.Read(LSR, 1, reads.getRef()));
        var rtc = byName.get("cmos-rtc");
        rtc.tell(new DeviceActor.Write(0, 1, 0x00));               // seconds
        rtc.tell(new DeviceActor.Read(1, 1, reads.getRef()));      // the clock, through the recording
        for (int i = 0; i < 5; i++) reads.receiveMessage();
        TestProbe<Done> done = kit.createTestProbe();
        for (var a : actors) {
            a.tell(new DeviceActor.RecordFinalState(done.getRef()));
            done.receiveMessage();
        }
        recorder.close();
        assertEquals("hi\n", console.toString(), "the console got its bytes while recorded");
        assertEquals(List.of(true, false), irq, "the line rose with the input and fell when it was read");
    }

    @Test
    void theRecordingReplaysWithoutDivergence() throws IOException {
        DeviceReplay.Result r = DeviceReplay.run(recording);
        assertNull(r.divergence(), () -> String.valueOf(r.divergence()));
        assertEquals("unit", r.vm());
        assertEquals(12L + 6, r.steps(), "12 calls and 6 final states");
        assertEquals(6L, r.statesChecked());
        assertEquals(10L + 1, r.stepsByDevice().get("serial"));
    }

    @Test
    void aUartWhoseInterruptIsNotWiredIsCaughtWhereItFirstWouldHaveRaisedIt() throws IOException {
        long expected = firstStep(s -> s.getItemsList().stream().anyMatch(Item::hasIrqLevel));
        UnaryOperator<BusDevice> unwired = m -> new Serial16550(Recorded.console(null), level -> {});
        DeviceReplay.Result r = DeviceReplay.run(recording, null, Map.of("serial", unwired));
        assertFalse(r.matched());
        assertEquals(expected, r.divergence().step(), r.divergence().toString());
        assertEquals("serial", r.divergence().device());
        assertEquals("host input of 2 bytes", r.divergence().call());
        assertTrue(r.divergence().detail().contains("interrupt line high"), r.divergence().detail());
    }

    @Test
    void aChangedReadValueInTheRecordingIsTheDivergence() throws IOException {
        Path edited = dir.resolve("edited.avmdlog");
        long changed;
        try (DeviceLogReader in = DeviceLogReader.open(recording); var out = Files.newOutputStream(edited)) {
            out.write("AVMDLOG1\n".getBytes());
            in.header().writeDelimitedTo(out);
            long n = 0, at = -1;
            for (DeviceStep s = in.next(); s != null; s = in.next()) {
                n++;
                if (at < 0 && s.hasRead() && s.getRead().getOffset() == LSR) {
                    at = n;
                    s = s.toBuilder().setRead(s.getRead().toBuilder().setValue(s.getRead().getValue() ^ 0x20)).build();
                }
                s.writeDelimitedTo(out);
            }
            changed = at;
        }
        DeviceReplay.Result r = DeviceReplay.run(edited);
        assertEquals(changed, r.divergence().step(), r.divergence().toString());
        assertTrue(r.divergence().call().startsWith("read of register 0x5"), r.divergence().call());
    }

    @Test
    void aDamagedRecordingIsAOneLineError() throws IOException {
        Path cut = dir.resolve("cut.avmdlog");
        byte[] all = Files.readAllBytes(recording);
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 3));
        var e = assertThrows(DeviceLogException.class, () -> DeviceReplay.run(cut));
        assertTrue(e.getMessage().contains("cut off"), e.getMessage());

        Path huge = dir.resolve("huge.avmdlog");
        byte[] head = java.util.Arrays.copyOf(all, all.length);
        Files.write(huge, head);
        Files.write(huge, new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F}, java.nio.file.StandardOpenOption.APPEND);
        e = assertThrows(DeviceLogException.class, () -> DeviceReplay.run(huge));
        assertTrue(e.getMessage().contains("claims 4294967295 bytes"), e.getMessage());

        Path foreign = dir.resolve("foreign.avmdlog");
        Files.writeString(foreign, "not a recording");
        e = assertThrows(DeviceLogException.class, () -> DeviceReplay.run(foreign));
        assertFalse(e.getMessage().contains("\n"));
    }

    private static long firstStep(java.util.function.Predicate<DeviceStep> p) throws IOException {
        try (DeviceLogReader in = DeviceLogReader.open(recording)) {
            long n = 0;
            for (DeviceStep s = in.next(); s != null; s = in.next()) {
                n++;
                if (p.test(s)) return n;
            }
        }
        throw new AssertionError("no such step");
    }
}
