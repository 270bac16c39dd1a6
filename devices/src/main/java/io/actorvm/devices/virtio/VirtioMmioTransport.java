package io.actorvm.devices.virtio;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.io.buffering.virtq.SplitQueue;
import io.actorvm.io.buffering.virtq.VirtQueueException;
import io.actorvm.mmu.GuestMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * The virtio-mmio transport, version 2 (virtio 1.2, section 4.2): the register file a driver uses
 * to discover the device, negotiate features, describe its queues and set the device status. A
 * driver that breaks the protocol (queues in the wrong place, features it was not offered)
 * puts the device in DEVICE_NEEDS_RESET with a config-change interrupt, and the reason is kept
 * for {@link #error()}: it never throws.
 */
public final class VirtioMmioTransport implements BusDevice, io.actorvm.devices.ErrorState, io.actorvm.devices.Stateful<VirtioMmioTransport.State> {
    public static final int MAGIC = 0x74726976; // "virt"
    public static final int VERSION = 2;
    /** "AVM\0": actorvm's vendor id in the VendorID register. */
    public static final int VENDOR_ID = 0x004D5641;
    public static final int WINDOW = 0x1000;
    /** The QueueNotify register, for ioeventfd registration. */
    public static final int QUEUE_NOTIFY = 0x050;

    static final int MAGIC_VALUE = 0x000, VERSION_REG = 0x004, DEVICE_ID = 0x008, VENDOR = 0x00C,
            DEVICE_FEATURES = 0x010, DEVICE_FEATURES_SEL = 0x014, DRIVER_FEATURES = 0x020, DRIVER_FEATURES_SEL = 0x024,
            QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038, QUEUE_READY = 0x044,
            INTERRUPT_STATUS = 0x060, INTERRUPT_ACK = 0x064, STATUS = 0x070,
            QUEUE_DESC_LOW = 0x080, QUEUE_DESC_HIGH = 0x084, QUEUE_DRIVER_LOW = 0x090, QUEUE_DRIVER_HIGH = 0x094,
            QUEUE_DEVICE_LOW = 0x0A0, QUEUE_DEVICE_HIGH = 0x0A4, SHM_SEL = 0x0AC, SHM_LEN_LOW = 0x0B0, SHM_LEN_HIGH = 0x0B4,
            SHM_BASE_LOW = 0x0B8, SHM_BASE_HIGH = 0x0BC, CONFIG_GENERATION = 0x0FC, CONFIG = 0x100;
    public static final int S_ACKNOWLEDGE = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8,
            S_NEEDS_RESET = 0x40, S_FAILED = 0x80;

    /** One queue as the driver describes it. */
    public record QueueConfig(int size, long desc, long driver, long device, boolean ready) {
        static QueueConfig empty() {
            return new QueueConfig(0, 0, 0, 0, false);
        }
    }

    /**
     * Everything a snapshot needs to rebuild the transport and its device model (the queues'
     * progress lives in the ring actors). {@code deviceKind} is the model's codec: a state only
     * restores into the same kind of device.
     */
    public record State(int status, int deviceFeaturesSel, int driverFeaturesSel, long driverFeatures, int queueSel,
                        List<QueueConfig> queues, int interruptStatus, int configGeneration, String error,
                        NegotiatedStateCodec deviceKind, VirtioDevice.NegotiatedState device) {}

    /** {@code device}: the model's counters, flattened into {@link #counters()} beside the transport's. */
    public record Metrics(DeviceMetrics device, long notificationsByRegister, long resets, long protocolErrors,
                          boolean needsReset) implements DeviceMetrics {}

    public static final VirtioMmioTransportCodec CODEC = new VirtioMmioTransportCodec();

    private final VirtioDevice device;
    private final VirtioHost host;
    private final VirtioInterrupt interrupt;
    private final GuestMemory memory;
    private final QueueConfig[] queues;
    private int status, deviceFeaturesSel, driverFeaturesSel, queueSel, configGeneration;
    private long driverFeatures;
    private boolean draining;
    private String error;
    private long notifications, resets, protocolErrors;

    public VirtioMmioTransport(VirtioDevice device, VirtioHost host, VirtioInterrupt interrupt, GuestMemory memory) {
        this.device = device;
        this.host = host;
        this.interrupt = interrupt;
        this.memory = memory;
        this.queues = new QueueConfig[device.queueCount()];
        java.util.Arrays.fill(queues, QueueConfig.empty());
    }

    @Override
    public String name() {
        return device.name();
    }

    public VirtioDevice device() {
        return device;
    }

    /** Why the device needs a reset, or null. */
    public String error() {
        return error;
    }

    @Override
    public long read(long offset, int size) {
        if (offset >= CONFIG) {
            return offset - CONFIG > Integer.MAX_VALUE ? 0 : device.readConfig((int) (offset - CONFIG), size);
        }
        if (size != 4 || (offset & 3) != 0) return 0; // registers are 32-bit, aligned
        QueueConfig q = selectedQueue();
        return switch ((int) offset) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION_REG -> VERSION;
            case DEVICE_ID -> device.deviceId();
            case VENDOR -> VENDOR_ID;
            case DEVICE_FEATURES -> deviceFeaturesSel > 1 ? 0 : (device.features() >>> (32 * deviceFeaturesSel)) & 0xFFFFFFFFL;
            case QUEUE_NUM_MAX -> q == null ? 0 : device.queueMaxSize(queueSel);
            case QUEUE_READY -> q != null && q.ready() ? 1 : 0;
            case INTERRUPT_STATUS -> interrupt.readByGuest();
            case STATUS -> status;
            case CONFIG_GENERATION -> configGeneration;
            case SHM_LEN_LOW, SHM_LEN_HIGH -> 0xFFFFFFFFL; // no shared memory regions: length -1
            default -> 0;
        };
    }

    @Override
    public void write(long offset, int size, long raw) {
        if (offset >= CONFIG) {
            if (offset - CONFIG <= Integer.MAX_VALUE) device.writeConfig((int) (offset - CONFIG), size, raw);
            return;
        }
        if (size != 4 || (offset & 3) != 0) return;
        int v = (int) raw;
        switch ((int) offset) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case DRIVER_FEATURES -> {
                // Once FEATURES_OK is set the device has accepted a feature set; until a reset the
                // driver cannot change it (QEMU keeps the accepted set too). Taking later writes
                // would make the rings and a restored device use features nobody negotiated.
                if ((status & S_FEATURES_OK) == 0 && (driverFeaturesSel == 0 || driverFeaturesSel == 1)) {
                    int shift = 32 * driverFeaturesSel;
                    driverFeatures = (driverFeatures & ~(0xFFFFFFFFL << shift)) | ((v & 0xFFFFFFFFL) << shift);
                }
            }
            case QUEUE_SEL -> queueSel = v;
            case QUEUE_NUM -> updateQueue(q -> new QueueConfig(v, q.desc(), q.driver(), q.device(), q.ready()));
            case QUEUE_DESC_LOW -> updateQueue(q -> new QueueConfig(q.size(), low(q.desc(), v), q.driver(), q.device(), q.ready()));
            case QUEUE_DESC_HIGH -> updateQueue(q -> new QueueConfig(q.size(), high(q.desc(), v), q.driver(), q.device(), q.ready()));
            case QUEUE_DRIVER_LOW -> updateQueue(q -> new QueueConfig(q.size(), q.desc(), low(q.driver(), v), q.device(), q.ready()));
            case QUEUE_DRIVER_HIGH -> updateQueue(q -> new QueueConfig(q.size(), q.desc(), high(q.driver(), v), q.device(), q.ready()));
            case QUEUE_DEVICE_LOW -> updateQueue(q -> new QueueConfig(q.size(), q.desc(), q.driver(), low(q.device(), v), q.ready()));
            case QUEUE_DEVICE_HIGH -> updateQueue(q -> new QueueConfig(q.size(), q.desc(), q.driver(), high(q.device(), v), q.ready()));
            case QUEUE_READY -> updateQueue(q -> new QueueConfig(q.size(), q.desc(), q.driver(), q.device(), v == 1));
            case QUEUE_NOTIFY -> {
                notifications++;
                if ((status & S_DRIVER_OK) != 0 && (status & S_NEEDS_RESET) == 0 && v >= 0 && v < queues.length) host.notifyQueue(v);
            }
            case INTERRUPT_ACK -> interrupt.acknowledge(v);
            case STATUS -> writeStatus(v);
            default -> { } // read-only or unknown: ignored
        }
    }

    private QueueConfig selectedQueue() {
        return queueSel >= 0 && queueSel < queues.length ? queues[queueSel] : null;
    }

    /** Queue registers may only change before DRIVER_OK, on an existing queue. */
    private void updateQueue(java.util.function.UnaryOperator<QueueConfig> change) {
        if (selectedQueue() == null || (status & S_DRIVER_OK) != 0) return;
        queues[queueSel] = change.apply(queues[queueSel]);
    }

    private static long low(long old, int v) {
        return (old & 0xFFFFFFFF00000000L) | (v & 0xFFFFFFFFL);
    }

    private static long high(long old, int v) {
        return (old & 0xFFFFFFFFL) | ((long) v << 32);
    }

    private void writeStatus(int written) {
        int v = written & 0xFF; // the device status is a byte; the register's upper bits are reserved (as QEMU masks them)
        if (v == 0) {
            reset();
            return;
        }
        if ((status & ~v) != 0) return; // drivers only ever add bits (until a reset); clearing some is ignored
        int added = v & ~status;
        if ((added & S_FEATURES_OK) != 0) {
            long unsupported = driverFeatures & ~device.features();
            if (unsupported != 0 || (driverFeatures & VirtioDevice.F_VERSION_1) == 0) {
                status = v & ~S_FEATURES_OK; // the driver reads FEATURES_OK back and sees it refused
                return;
            }
            device.negotiated(driverFeatures);
        }
        status = v;
        if ((added & S_DRIVER_OK) != 0) activate();
    }

    private void activate() {
        List<SplitQueue.State> ready = new ArrayList<>();
        boolean eventIdx = (driverFeatures & VirtioDevice.F_EVENT_IDX) != 0;
        boolean indirect = (driverFeatures & VirtioDevice.F_INDIRECT_DESC) != 0;
        try {
            for (int i = 0; i < queues.length; i++) {
                QueueConfig q = queues[i];
                if (!q.ready()) {
                    ready.add(null);
                    continue;
                }
                if (q.size() < 1 || q.size() > device.queueMaxSize(i) || Integer.bitCount(q.size()) != 1) {
                    throw new VirtQueueException("queue " + i + ": size " + q.size() + " (max " + device.queueMaxSize(i) + ")");
                }
                // Built here so that bad ring addresses fail the device now; the rings get the state.
                ready.add(new SplitQueue(memory, q.size(), q.desc(), q.driver(), q.device(), eventIdx, indirect).state());
            }
        } catch (VirtQueueException e) {
            fail(e.getMessage());
            return;
        }
        host.activate(ready);
    }

    /**
     * True from a reset until the host says the old rings stopped ({@link #ringsStopped}): the
     * runtime holds the driver's next accesses meanwhile, as a device that is resetting stalls
     * its driver on hardware (QEMU drains a device's requests inside the reset write).
     */
    public boolean draining() {
        return draining;
    }

    /** The rings of before the reset finished their requests in flight and stopped. */
    public void ringsStopped() {
        draining = false;
    }

    /** Puts the device into DEVICE_NEEDS_RESET; callable by the runtime when a ring hits bad guest data. */
    @Override
    public void fail(String reason) {
        if ((status & S_NEEDS_RESET) != 0) return;
        protocolErrors++;
        error = reason;
        status |= S_NEEDS_RESET;
        host.deactivate();
        interrupt.raise(VirtioInterrupt.CONFIG_CHANGE);
    }

    private void reset() {
        resets++;
        draining = true;
        host.deactivate();
        device.reset();
        status = 0;
        driverFeatures = 0;
        deviceFeaturesSel = driverFeaturesSel = queueSel = 0;
        error = null;
        java.util.Arrays.fill(queues, QueueConfig.empty());
        interrupt.clear();
    }

    /**
     * Puts a snapshot's registers back into a fresh transport and, if the driver had the device
     * running, restarts its rings where they were ({@code queues}: each queue's progress, null for
     * queues that were not running). Bad values from a snapshot are caught like bad guest input.
     */
    public void restore(State s, List<SplitQueue.State> queues) {
        restore(s);
        resumeQueues(queues);
    }

    /** The registers alone (the rings stay stopped until {@link #resumeQueues}). */
    @Override
    public void restore(State s) {
        status = s.status() & 0xFF;
        deviceFeaturesSel = s.deviceFeaturesSel();
        driverFeaturesSel = s.driverFeaturesSel();
        driverFeatures = s.driverFeatures();
        queueSel = s.queueSel();
        configGeneration = s.configGeneration();
        error = s.error();
        for (int i = 0; i < Math.min(this.queues.length, s.queues().size()); i++) this.queues[i] = s.queues().get(i);
        if (s.interruptStatus() != 0) interrupt.raise(s.interruptStatus());
        if (!s.deviceKind().kind().equals(device.codec().kind())) {
            fail("restored state is a " + s.deviceKind().kind() + " state, not a " + device.codec().kind() + " one");
            return;
        }
        device.restore(s.device());
        if ((status & S_FEATURES_OK) != 0) {
            if ((driverFeatures & ~device.features()) != 0 || (driverFeatures & VirtioDevice.F_VERSION_1) == 0) {
                fail("restored state has accepted features 0x" + Long.toHexString(driverFeatures) + " this device does not offer");
                return;
            }
            device.negotiated(driverFeatures);
        }
    }

    /** Restarts the rings of a restored, running device where they were. */
    public void resumeQueues(List<SplitQueue.State> queues) {
        if ((status & S_DRIVER_OK) == 0 || (status & S_NEEDS_RESET) != 0) return;
        List<SplitQueue.State> running = new ArrayList<>();
        try {
            for (int i = 0; i < this.queues.length; i++) {
                SplitQueue.State q = i < queues.size() ? queues.get(i) : null;
                if (q != null) new SplitQueue(memory, q); // refuses a damaged state now
                running.add(q);
            }
        } catch (VirtQueueException | IllegalArgumentException e) {
            fail("restored queue: " + e.getMessage());
            return;
        }
        host.activate(running);
    }

    @Override
    public State state() {
        return new State(status, deviceFeaturesSel, driverFeaturesSel, driverFeatures, queueSel, List.of(queues),
                interrupt.status(), configGeneration, error, device.codec(), device.state());
    }

    @Override
    public VirtioMmioTransportCodec codec() {
        return CODEC;
    }

    @Override
    public Metrics metrics() {
        return new Metrics(device.metrics(), notifications, resets, protocolErrors, (status & S_NEEDS_RESET) != 0);
    }
}
