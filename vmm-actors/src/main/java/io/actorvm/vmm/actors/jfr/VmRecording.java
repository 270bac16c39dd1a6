package io.actorvm.vmm.actors.jfr;

import jdk.jfr.Recording;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A JFR recording of actorvm's events (and the JVM's garbage collections, for context) into a
 * file, for {@code --jfr FILE}: started before the VM, written when closed.
 */
public final class VmRecording implements AutoCloseable {
    static final List<Class<? extends jdk.jfr.Event>> EVENTS =
            List.of(ExitEvent.class, SnapshotEvent.class, RestoreEvent.class, DeviceErrorEvent.class);

    private final Recording recording = new Recording();

    private VmRecording(Path file) throws IOException {
        recording.setName("actorvm");
        recording.setToDisk(true);
        recording.setDestination(file);
        for (var e : EVENTS) recording.enable(e).withoutStackTrace();
        recording.enable("jdk.GarbageCollection");
        recording.start();
    }

    /** Starts recording to {@code file}; a file that cannot be written is a one-line error. */
    public static VmRecording start(Path file) {
        try {
            return new VmRecording(file.toAbsolutePath());
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot record to " + file + ": " + e.getMessage(), e);
        }
    }

    /** Stops the recording, which writes it to its file. */
    @Override
    public void close() {
        recording.stop();
        recording.close();
    }
}
