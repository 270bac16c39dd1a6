package io.actorvm.vmm.actors;

import com.typesafe.config.ConfigFactory;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.persistence.KryoSerializer;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The VM's public protocol is ready to cross JVMs: every command and reply goes through the Kryo
 * serializer (replyTo references included) and comes back equal, and a VM driven through the
 * protocol with Pekko's serialize-messages check on answers every command (a message that fails
 * the check is dropped, so a missing answer is the failure). Internal messages are exempt.
 */
class VmProtocolSerializationTest {
    static final ActorTestKit kit = ActorTestKit.create("serialization", ConfigFactory.parseString("""
            pekko.actor.serialize-messages = on
            pekko.loglevel = WARNING
            """).withFallback(ConfigFactory.load()));
    static final Serialization serialization = SerializationExtension.get(kit.system().classicSystem());

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static Object roundTrip(Object message) {
        var serializer = serialization.findSerializerFor(message);
        assertInstanceOf(KryoSerializer.class, serializer, message.getClass() + " is bound to " + serializer.getClass());
        byte[] bytes = serialization.serialize(message).get();
        return serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message)).get();
    }

    @Test
    void everyPublicMessageAndReplyRoundTripsThroughKryo() {
        ActorRef<StatusReply<Done>> done = kit.<StatusReply<Done>>createTestProbe().getRef();
        ActorRef<StatusReply<Vm.SnapshotInfo>> snap = kit.<StatusReply<Vm.SnapshotInfo>>createTestProbe().getRef();
        ActorRef<ConsoleOutput> console = kit.<ConsoleOutput>createTestProbe().getRef();
        Vm.Terminated terminated = new Vm.Terminated("guest powered off", 0, false);
        Map<String, Long> io = new LinkedHashMap<>(Map.of("exits", 42L));
        List<Object> messages = List.of(new Vm.Start(done), new Vm.Pause(done), new Vm.Resume(done), new Vm.Stop("bye", done),
                new Vm.SendCtrlAltDel(done),
                new Vm.GetStatus(kit.<Vm.Status>createTestProbe().getRef()),
                new Vm.WatchTermination(kit.<Vm.Terminated>createTestProbe().getRef()),
                new Vm.AttachConsole(console), new Vm.DetachConsole(console),
                new Vm.GetStats(kit.<Vm.Stats>createTestProbe().getRef()), new Vm.TakeSnapshot(true, snap),
                new Vm.SnapshotInfo("20261202T120000Z-12345", "", true, 4096, 70000, 3200),
                new Vm.Status("web-1", Vm.State.STOPPED, terminated), terminated,
                new Vm.Stats(io, List.of(
                        new DeviceActor.Metrics("serial", new Serial16550.Metrics(1, 2, 3, 4), 0, 5, 6, 7, 8000, 3),
                        new DeviceActor.Metrics("virtio-blk", new VirtioMmioTransport.Metrics(
                                new VirtioBlock.Metrics(1, 2, 3, 4, 5, 6, 7, 8), 9, 10, 11, false), 0, 0, 0, 0, 0, 0)),
                        new Vm.Lifecycle(4, 1, 2_000_000_000L, 300_000_000L, 49_000_000L)));
        for (Object m : messages) assertEquals(m, roundTrip(m), m.getClass().getName());
        assertArrayEquals(new byte[] {1, 2, 3}, ((Vm.ConsoleInput) roundTrip(new Vm.ConsoleInput(new byte[] {1, 2, 3}))).data());
        assertArrayEquals(new byte[] {4, 5}, ((ConsoleOutput) roundTrip(new ConsoleOutput(new byte[] {4, 5}))).bytes());
    }

    @Test
    void aVmAnswersItsProtocolWithTheSerializationCheckOn() {
        VmConfig config = new VmConfig("checked", Path.of("/nonexistent/kernel.elf"), "", 16L << 20, 1);
        ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
        TestProbe<Vm.Status> status = kit.createTestProbe();
        TestProbe<Vm.Stats> stats = kit.createTestProbe();
        TestProbe<StatusReply<Done>> lifecycle = kit.createTestProbe();
        TestProbe<StatusReply<Vm.SnapshotInfo>> snapshot = kit.createTestProbe();
        TestProbe<Vm.Terminated> ended = kit.createTestProbe();
        TestProbe<ConsoleOutput> console = kit.createTestProbe();

        vm.tell(new Vm.AttachConsole(console.getRef()));
        vm.tell(new Vm.WatchTermination(ended.getRef()));
        vm.tell(new Vm.GetStatus(status.getRef()));
        assertEquals(Vm.State.CREATED, status.receiveMessage(Duration.ofSeconds(10)).state());
        vm.tell(new Vm.GetStats(stats.getRef()));
        assertTrue(stats.receiveMessage(Duration.ofSeconds(10)).io().containsKey("exits"));
        vm.tell(new Vm.Pause(lifecycle.getRef()));
        assertTrue(lifecycle.receiveMessage(Duration.ofSeconds(10)).isError());
        vm.tell(new Vm.TakeSnapshot(snapshot.getRef()));
        assertTrue(snapshot.receiveMessage(Duration.ofSeconds(10)).isError());
        vm.tell(new Vm.ConsoleInput(new byte[] {'x'}));
        vm.tell(new Vm.DetachConsole(console.getRef()));
        vm.tell(new Vm.Stop("done checking", lifecycle.getRef()));
        assertTrue(lifecycle.receiveMessage(Duration.ofSeconds(10)).isSuccess());
        assertEquals("done checking", ended.receiveMessage(Duration.ofSeconds(10)).reason());
        vm.tell(new Vm.GetStatus(status.getRef()));
        assertEquals(Vm.State.STOPPED, status.receiveMessage(Duration.ofSeconds(10)).state());
        // A start of a VM whose kernel is missing is refused (the error reply crosses the check too).
        ActorRef<Vm.Command> bad = kit.spawn(Vm.create(config.withName("bad")));
        bad.tell(new Vm.Start(lifecycle.getRef()));
        assertTrue(lifecycle.receiveMessage(Duration.ofSeconds(30)).isError());
    }
}
