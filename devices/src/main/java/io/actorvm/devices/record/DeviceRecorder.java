package io.actorvm.devices.record;

import io.actorvm.devices.proto.Checkpoint;
import io.actorvm.devices.proto.DeviceLogHeader;
import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.LoggedDevice;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes one VM's device recording (see {@code device_log.proto}): devices are {@link #register}ed
 * as the VM attaches them, {@link #start} writes the header, then every {@link DeviceTape} appends
 * the steps of its device. Appends from the devices' threads are serialised here; a failing disk
 * stops the recording (said once) and never the VM.
 */
public final class DeviceRecorder implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DeviceRecorder.class.getName());
    private static final int BUFFER = 1 << 20;

    private final Path file;
    private final OutputStream out;
    private final DeviceLogHeader.Builder header;
    private final List<LoggedDevice> devices = new ArrayList<>();
    private boolean started, closed, broken;
    private long steps, rounds;

    private DeviceRecorder(Path file, OutputStream out, DeviceLogHeader.Builder header) {
        this.file = file;
        this.out = out;
        this.header = header;
    }

    /** A new recording at {@code file} (its directory is made; an existing file is an error). */
    public static DeviceRecorder create(Path file, String vm, long ramSize) throws IOException {
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        OutputStream out = new BufferedOutputStream(Files.newOutputStream(file, java.nio.file.StandardOpenOption.CREATE_NEW), BUFFER);
        return new DeviceRecorder(file, out, DeviceLogHeader.newBuilder().setVm(vm).setStartedEpochMillis(System.currentTimeMillis())
                .setRamSize(ramSize));
    }

    /** The next device the VM attaches; its steps go through the returned tape. */
    public synchronized DeviceTape register(LoggedDevice device) {
        if (started) throw new IllegalStateException("devices are registered before the recording starts");
        devices.add(device);
        return new DeviceTape(this, devices.size() - 1);
    }

    /** Writes the header: every device is registered. */
    public synchronized void start() {
        if (started) return;
        started = true;
        try {
            out.write(DeviceLogReader.MAGIC);
            header.addAllDevices(devices).build().writeDelimitedTo(out);
        } catch (IOException e) {
            broke(e);
        }
    }

    synchronized void append(DeviceStep step) {
        if (!started) throw new IllegalStateException("the recording has not started");
        if (closed || broken) return;
        try {
            step.writeDelimitedTo(out);
            steps++;
        } catch (IOException e) {
            broke(e);
        }
    }

    /** A new capture round (a snapshot being taken): the devices note their states under its number. */
    public synchronized long nextRound() {
        return ++rounds;
    }

    /** Capture round {@code round} became snapshot {@code snapshotId}: a replay can start there. */
    public void checkpoint(long round, String snapshotId) {
        append(DeviceStep.newBuilder().setCheckpoint(Checkpoint.newBuilder().setRound(round).setSnapshotId(snapshotId)).build());
    }

    /** Steps written so far. */
    public synchronized long steps() {
        return steps;
    }

    private void broke(IOException e) {
        broken = true;
        LOG.log(System.Logger.Level.WARNING, "device recording " + file + " stopped: " + e.getMessage() + " (the VM runs on)");
    }

    /** Flushes and closes the file; a failure is said once and never reaches the VM stopping. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            out.close();
        } catch (IOException e) {
            if (!broken) broke(e);
        }
    }
}
