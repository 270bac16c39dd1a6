package io.actorvm.vmm.actors.jfr;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.vmm.actors.device.DeviceActor;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A device's errors reach a JFR recording, read back with jdk.jfr.consumer. */
class DeviceErrorEventTest {
    @TempDir
    Path dir;

    static final class Throwing implements BusDevice {
        @Override
        public String name() {
            return "throwing";
        }

        @Override
        public long read(long offset, int size) {
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
            throw new IllegalStateException("broken by the guest");
        }

        record Metrics() implements DeviceMetrics {}

        @Override
        public Metrics metrics() {
            return new Metrics();
        }
    }

    @Test
    void aFailedDeviceAndAModelThatThrewAreRecorded() throws Exception {
        ActorTestKit kit = ActorTestKit.create();
        Path file = dir.resolve("devices.jfr");
        try (Recording recording = new Recording()) {
            recording.enable(DeviceErrorEvent.class);
            recording.start();
            var device = kit.spawn(DeviceActor.create(new Throwing()));
            device.tell(new DeviceActor.Fail("queue 0: descriptor loop"));
            device.tell(new DeviceActor.Write(0, 1, 1)); // the model throws: restarted
            TestProbe<DeviceActor.Metrics> metrics = kit.createTestProbe();
            device.tell(new DeviceActor.GetMetrics(metrics.getRef()));
            assertEquals(1, metrics.receiveMessage(Duration.ofSeconds(10)).failures());
            recording.stop();
            recording.dump(file);
        } finally {
            kit.shutdownTestKit();
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals("actorvm.DeviceError")).toList();
        assertEquals(2, events.size(), events.toString());
        assertTrue(events.stream().allMatch(e -> e.getString("device").equals("throwing")));
        assertEquals(List.of("queue 0: descriptor loop", "the model threw; restarted with its state kept"),
                events.stream().map(e -> e.getString("reason")).toList());
    }
}
