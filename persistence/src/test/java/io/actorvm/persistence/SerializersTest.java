package io.actorvm.persistence;

import com.google.protobuf.ByteString;
import com.typesafe.config.ConfigFactory;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.VmEvent;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class SerializersTest {
    /** A cluster-style command: registered, with the classes of its field values. */
    public record AttachDisk(String vm, long requestId, byte[] token, List<String> options, Slot slot) implements KryoSerializable {
        @Override
        public boolean equals(Object o) {
            return o instanceof AttachDisk a && vm.equals(a.vm) && requestId == a.requestId && Arrays.equals(token, a.token)
                    && options.equals(a.options) && Objects.equals(slot, a.slot);
        }

        @Override
        public int hashCode() {
            return Objects.hash(vm, requestId, Arrays.hashCode(token), options, slot);
        }
    }

    public record Slot(int index, boolean readOnly) {
    }

    /** Marked for Kryo but not listed in actorvm.kryo.classes. */
    public record Unlisted(String text) implements KryoSerializable {
    }

    static ActorTestKit testKit;
    static Serialization serialization;

    @BeforeAll
    static void start() {
        testKit = ActorTestKit.create("serializers", ConfigFactory.parseString("""
                actorvm.kryo.classes = [
                  "io.actorvm.persistence.SerializersTest$AttachDisk",
                  "io.actorvm.persistence.SerializersTest$Slot",
                  "byte[]",
                  "java.util.ImmutableCollections$List12",
                  "java.util.ImmutableCollections$ListN",
                ]
                """));
        serialization = SerializationExtension.get(testKit.system().classicSystem());
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    static Object roundTrip(Object message, Class<?> expectedSerializer) {
        Serializer serializer = serialization.findSerializerFor(message);
        assertEquals(expectedSerializer, serializer.getClass());
        byte[] bytes = serialization.serialize(message).get();
        String manifest = Serializers.manifestFor(serializer, message);
        return serialization.deserialize(bytes, serializer.identifier(), manifest).get();
    }

    static List<VmEvent> everyEventKind() {
        long t = 1_763_000_000_000L;
        return List.of(
                VmEvent.newBuilder().setTimestampMillis(t).setDefined(VmEvent.Defined.newBuilder()
                        .setName("web-1").setKernelPath("/boot/vmlinux").setCmdline("console=ttyS0")
                        .setMemoryBytes(256L << 20).setCpus(2).setInitrdPath("/boot/initrd")
                        .addDisks(VmEvent.Defined.Disk.newBuilder().setPath("/var/disk.img").setReadOnly(true))
                        .setRng(true)
                        .addNets(VmEvent.Defined.Net.newBuilder().setKind("switch").setName("lan")
                                .setMac(ByteString.copyFrom(new byte[] {2, 0x41, 1, 2, 3, 4})))
                        .addDisabledCpuFeatures("cx16")).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 1).setStarted(VmEvent.Started.getDefaultInstance()).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 2).setPaused(VmEvent.Paused.getDefaultInstance()).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 3).setResumed(VmEvent.Resumed.getDefaultInstance()).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 4).setDeviceAttached(VmEvent.DeviceAttached.newBuilder()
                        .setKind("virtio-blk").setSlot(1).setDescription("/var/disk.img, read-only")).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 5).setSnapshotTaken(VmEvent.SnapshotTaken.newBuilder()
                        .setSnapshotId("s2").setManifestPath("/var/snap/snapshots/s2.manifest").setParentId("s1")
                        .setKind(SnapshotKind.INCREMENTAL).setPageCount(1234).setBytes(1234L * 4096)).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 6).setRestored(VmEvent.Restored.newBuilder().setSnapshotId("s2")).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 7).setStopped(VmEvent.Stopped.newBuilder()
                        .setReason("guest exited").setExitStatus(3)).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 8).setFailed(VmEvent.Failed.newBuilder().setReason("triple fault")).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 9).setSnapshotFailed(VmEvent.SnapshotFailed.newBuilder()
                        .setReason("No space left on device").setNextFull(true)).build(),
                VmEvent.newBuilder().setTimestampMillis(t + 10).setPlaced(VmEvent.Placed.newBuilder().setNode("10.0.0.2:2551")
                        .setReason("failover from 10.0.0.1:2551").setSnapshotId("20261203T120000Z-1a2b3")).build());
    }

    @Test
    void everyVmEventKindRoundTripsThroughPekkoSerialization() {
        List<VmEvent> events = everyEventKind();
        Set<VmEvent.EventCase> covered = events.stream().map(VmEvent::getEventCase).collect(Collectors.toSet());
        Set<VmEvent.EventCase> all = EnumSet.allOf(VmEvent.EventCase.class);
        all.remove(VmEvent.EventCase.EVENT_NOT_SET);
        assertEquals(all, covered, "a sample of every event kind");
        for (VmEvent e : events) {
            assertEquals(e, roundTrip(e, ProtobufVmEventSerializer.class));
        }
        assertEquals("actorvm.VmEvent", Serializers.manifestFor(serialization.findSerializerFor(events.getFirst()), events.getFirst()));
    }

    @Test
    void theProtobufSerializerRefusesUnknownManifests() {
        ProtobufVmEventSerializer s = new ProtobufVmEventSerializer();
        assertThrows(java.io.NotSerializableException.class, () -> s.fromBinary(new byte[0], "actorvm.Other"));
        assertThrows(IllegalArgumentException.class, () -> s.toBinary("not an event"));
    }

    @Test
    void aRegisteredRecordRoundTripsThroughKryo() {
        AttachDisk small = new AttachDisk("web-1", 7, new byte[] {1, 2, 3}, List.of("ro"), new Slot(2, true));
        assertEquals(small, roundTrip(small, KryoSerializer.class));
        AttachDisk big = new AttachDisk("web-2", -1, new byte[0], List.of("a", "b", "c"), null);
        assertEquals(big, roundTrip(big, KryoSerializer.class));
    }

    @Test
    void kryoRefusesAnUnregisteredClass() {
        Unlisted message = new Unlisted("hello");
        assertEquals(KryoSerializer.class, serialization.findSerializerFor(message).getClass());
        Throwable failure = serialization.serialize(message).failed().get();
        assertInstanceOf(IllegalArgumentException.class, failure);
        assertTrue(failure.getMessage().contains(Unlisted.class.getName()), failure.getMessage());
        assertTrue(failure.getMessage().contains("actorvm.kryo.classes"), failure.getMessage());
        assertFalse(failure.getMessage().contains("\n"), failure.getMessage());

        // Bytes naming an unregistered class id (as a hostile or newer peer could send) are refused too.
        KryoSerializer kryo = (KryoSerializer) serialization.findSerializerFor(message);
        List<Class<?>> longer = new java.util.ArrayList<>(kryo.registeredClasses());
        longer.add(Unlisted.class); // the id after the last one registered here
        byte[] forged = new KryoSerializer(longer).toBinary(message);
        assertThrows(IllegalArgumentException.class, () -> kryo.fromBinary(forged));
    }

    @Test
    void aBadClassNameInTheConfigurationIsAOneLineError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KryoSerializer.resolve(List.of("no.such.Clazz"), getClass().getClassLoader()));
        assertTrue(e.getMessage().startsWith("class 'no.such.Clazz' listed in actorvm.kryo.classes cannot be loaded"), e.getMessage());
        assertEquals(List.of(byte[].class, long[][].class, int.class),
                KryoSerializer.resolve(List.of("byte[]", "long[][]", "int"), getClass().getClassLoader()));
    }
}
