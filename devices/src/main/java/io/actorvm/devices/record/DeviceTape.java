package io.actorvm.devices.record;

import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.Item;

import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One device's part of a recording. Every call into the device's model — by its actor, or by a
 * ring completing a request — runs as a {@link Call}: it holds the device's lock (so steps are
 * written in the order their effects took, e.g. a ring raising an interrupt and the driver
 * reading the interrupt status), and it is this thread's {@link HostCall} while it runs.
 */
public final class DeviceTape {
    /** No recording: {@link #recording()} is false and nothing may be called. */
    public static final DeviceTape NONE = new DeviceTape(null, -1);

    private final DeviceRecorder recorder;
    private final int device;
    private final ReentrantLock lock = new ReentrantLock();

    DeviceTape(DeviceRecorder recorder, int device) {
        this.recorder = recorder;
        this.device = device;
    }

    public boolean recording() {
        return recorder != null;
    }

    /** Begins a call described by {@code step}; end it with {@link Call#end()} (in a {@code finally}). */
    public Call begin(DeviceStep.Builder step) {
        if (recorder == null) throw new IllegalStateException("not recording");
        lock.lock();
        return new Call(step.setDevice(device), HostCall.recording().enter());
    }

    /** Appends a step that is no call (a final state). */
    public void note(DeviceStep.Builder step) {
        if (recorder != null) recorder.append(step.setDevice(device).build());
    }

    /** A call in progress on this thread. */
    public final class Call {
        private final DeviceStep.Builder step;
        private final HostCall host;

        private Call(DeviceStep.Builder step, HostCall host) {
            this.step = step;
            this.host = host;
        }

        /** The step, to add what is known only after the call (a read's value). */
        public DeviceStep.Builder step() {
            return step;
        }

        /** Items gathered elsewhere for this call (a request's disk reads, made on an I/O thread). */
        public void addItems(List<Item> items) {
            host.addAll(items);
        }

        /** The model threw: the step says so (a replay expects the same). */
        public void threw(Throwable t) {
            step.setThrew(t.getClass().getName());
        }

        /** Writes the step and lets the device go. */
        public void end() {
            host.leave();
            try {
                recorder.append(step.addAllItems(host.items()).build());
            } finally {
                lock.unlock();
            }
        }
    }
}
