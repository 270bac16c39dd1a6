package io.actorvm.vmm.actors;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.InterruptLine;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.proto.LoggedDevice;
import io.actorvm.devices.record.DeviceRecorder;
import io.actorvm.devices.record.DeviceTape;
import io.actorvm.devices.record.Recorded;
import io.actorvm.devices.serial.SerialOutput;
import io.actorvm.vmm.actors.record.DeviceModels;
import io.actorvm.devices.HostSources;
import io.actorvm.devices.VmControl;
import io.actorvm.devices.debug.PostCodePort;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.devices.virtio.VirtioDevice;
import io.actorvm.devices.virtio.VirtioDeviceState;
import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.devices.virtio.net.NetBackend;
import io.actorvm.devices.virtio.net.VirtioNet;
import io.actorvm.devices.virtio.rng.VirtioRng;
import io.actorvm.io.buffering.IoBus;
import io.actorvm.io.buffering.IoRange;
import io.actorvm.io.buffering.virtq.SplitQueue;
import io.actorvm.kvm.IoEventPoller;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.console.ConsolePublisher;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.device.DeviceBacklog;
import io.actorvm.vmm.actors.io.DeviceRef;
import io.actorvm.vmm.actors.net.SwitchPort;
import io.actorvm.vmm.actors.net.Switches;
import io.actorvm.vmm.actors.virtio.VirtioHostAdapter;
import io.actorvm.vmm.actors.virtio.VirtioRings;
import io.actorvm.vmm.actors.virtio.VmIoShare;
import io.actorvm.vmm.actors.virtio.VirtioSlots;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The devices of one VM as actors: builds every model, spawns its {@link DeviceActor} (and, for a
 * virtio device, its {@link VirtioRings}) as children of the VM, registers them on the port and
 * MMIO buses and wires eventfds; then captures, restores, queries and stops them as a group. The
 * VM actor decides when; this class knows how.
 */
final class VmDevices {
    private static final Duration ASK = Duration.ofSeconds(10), RINGS = Duration.ofSeconds(60);

    final IoBus<DeviceRef> ports = new IoBus<>(), mmio = new IoBus<>();
    private final ActorContext<?> ctx;
    private final List<DeviceRef> devices = new ArrayList<>();
    private final List<ActorRef<VirtioRings.Command>> virtioRings = new ArrayList<>();
    private final Map<String, ActorRef<VirtioRings.Command>> ringsByDevice = new HashMap<>();
    private final List<SwitchPort> switchPorts = new ArrayList<>();
    private DeviceRef serial, keyboard;
    /** With {@code --record}: every call into a device model goes to this file. */
    private DeviceRecorder recorder;
    /** The recording's capture round of the last {@link #captureStates}. */
    private long captureRound;

    private VmDevices(ActorContext<?> ctx) {
        this.ctx = ctx;
    }

    /**
     * Every device of {@code config} on {@code machine}. {@code irqchipOpen} is cleared before the
     * VM fd closes, so a late UART interrupt never reaches a reused fd number.
     */
    static VmDevices attach(ActorContext<?> ctx, VmConfig config, HostSources sources, ActorRef<ConsoleHub.Command> console,
                            Machine machine, VmControl control, AtomicBoolean irqchipOpen) {
        VmDevices d = new VmDevices(ctx);
        var vmFd = machine.vm;
        d.recorder = sources.recording() == null ? null : startRecording(sources, config);
        // The UART's output goes to the console stream; subscribers do their own (blocking) writes.
        SerialOutput consoleOut = new ConsolePublisher(console);
        InterruptLine serialIrq = level -> {
            if (irqchipOpen.get()) vmFd.irqLine(Serial16550.COM1_IRQ, level);
        };
        InterruptLine keyboardIrq = level -> {
            if (irqchipOpen.get()) vmFd.irqLine(I8042.IRQ, level);
        };
        var clock = sources.wallClock();
        if (d.recorder != null) {
            consoleOut = Recorded.console(consoleOut);
            serialIrq = Recorded.irqLine(serialIrq);
            keyboardIrq = Recorded.irqLine(keyboardIrq);
            control = Recorded.control(control);
            clock = Recorded.clock(clock);
        }
        for (DeviceModels.Pc pc : DeviceModels.pc(consoleOut, serialIrq, keyboardIrq, control, clock)) {
            DeviceRef ref = d.attach(d.ports, pc.ports(), pc.model(), d.tape(DeviceModels.logged(pc.model())));
            if (d.serial == null) d.serial = ref; // the UART comes first
            if (pc.model() instanceof I8042) d.keyboard = ref;
        }
        if (machine.canCoalescePio()) {
            // POST codes need no immediate effect: let KVM queue them in the ring instead of exiting.
            machine.vm.registerCoalesced(PostCodePort.PORT, 1, true);
        }
        d.attachVirtio(config, sources, machine);
        if (d.recorder != null) d.recorder.start();
        return d;
    }

    private static DeviceRecorder startRecording(HostSources sources, VmConfig config) {
        try {
            return DeviceRecorder.create(sources.recording(), config.name(), config.memory());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot record devices to " + sources.recording() + ": " + e.getMessage(), e);
        }
    }

    /** The device's part of the recording, or none. */
    private DeviceTape tape(LoggedDevice device) {
        return recorder == null ? DeviceTape.NONE : recorder.register(device);
    }

    private DeviceRef attach(IoBus<DeviceRef> bus, IoRange range, BusDevice model, DeviceTape tape) {
        DeviceBacklog backlog = new DeviceBacklog();
        var ref = ctx.spawn(DeviceActor.create(model, backlog, tape), model.name());
        DeviceRef dev = new DeviceRef(model.name(), ref, backlog);
        bus.register(range, dev);
        devices.add(dev);
        return dev;
    }

    /**
     * One virtio-mmio device per disk, then the network devices and the entropy device, in the
     * slots the DSDT names. Each queue's QueueNotify is an ioeventfd (datamatch: the queue index)
     * watched by the VM's poller; the interrupt is an irqfd on the slot's GSI.
     */
    private void attachVirtio(VmConfig config, HostSources sources, Machine machine) {
        boolean recording = recorder != null;
        List<VirtioDevice> models = new ArrayList<>();
        Map<VirtioNet, NetBackend> netBackends = new HashMap<>(); // the real ones, to wire (a recording wraps the model's)
        for (int i = 0; i < machine.disks.size(); i++) {
            var disk = machine.disks.get(i);
            models.add(new VirtioBlock(recording ? Recorded.disk(disk) : disk, DeviceModels.diskId(i)));
        }
        for (int i = 0; i < config.nets().size(); i++) {
            NetConfig net = config.nets().get(i);
            NetBackend backend = net.kind() == NetConfig.Kind.TAP ? machine.taps.get(i)
                    : switchPort(net.name());
            if (backend instanceof SwitchPort port) switchPorts.add(port);
            VirtioNet model = new VirtioNet(net.macFor(config.name(), i), recording ? Recorded.net(backend) : backend);
            netBackends.put(model, backend);
            models.add(model);
        }
        if (config.rng()) models.add(new VirtioRng(recording ? Recorded.entropy(sources.entropy()) : sources.entropy()));
        if (models.isEmpty()) return;
        machine.poller = new IoEventPoller("virtio-notify-" + config.name());
        // Every device of this VM shares one bounded part of the pool all VMs use.
        VmIoShare io = new VmIoShare(ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(VirtioRings.DEVICE_IO_DISPATCHER)),
                ctx.getSystem().settings().config().getInt("actorvm.device-io-per-vm"));
        List<VirtioSlots.Slot> slots = VirtioSlots.first(models.size());
        for (int i = 0; i < models.size(); i++) {
            VirtioDevice model = models.get(i);
            VirtioSlots.Slot slot = slots.get(i);
            var irq = machine.eventFd();
            machine.vm.irqfd(irq.fd(), slot.gsi());
            Runnable trigger = irq::signal;
            VirtioInterrupt interrupt = new VirtioInterrupt(recording ? Recorded.irqEdge(trigger) : trigger);
            VirtioHostAdapter host = new VirtioHostAdapter();
            VirtioMmioTransport transport = new VirtioMmioTransport(model, recording ? Recorded.virtioHost(host) : host, interrupt,
                    machine.memory);
            String name = DeviceModels.virtioName(model, i);
            DeviceTape tape = tape(DeviceModels.logged(model, i));
            DeviceBacklog backlog = new DeviceBacklog();
            var transportRef = ctx.spawn(DeviceActor.create(transport, backlog, tape), name);
            var rings = ctx.spawn(VirtioRings.create(model, interrupt, machine.memory, transportRef, io, tape), name + "-rings");
            host.bind(rings);
            DeviceRef dev = new DeviceRef(name, transportRef, backlog);
            mmio.register(new IoRange(slot.base(), VirtioSlots.WINDOW), dev);
            devices.add(dev);
            virtioRings.add(rings);
            ringsByDevice.put(name, rings);
            if (model instanceof VirtioNet net) {
                // Received frames go to the receive ring through the device's rings actor.
                NetBackend backend = netBackends.get(net);
                if (backend instanceof SwitchPort port) port.connect(rings, VirtioNet.RX_QUEUE, net.mac());
                else backend.start(frame -> rings.tell(new VirtioRings.Inbound(VirtioNet.RX_QUEUE, frame)));
            }
            for (int q = 0; q < model.queueCount(); q++) {
                var notify = machine.eventFd();
                machine.vm.ioeventfd(notify.fd(), slot.base() + VirtioMmioTransport.QUEUE_NOTIFY, 4, false, (long) q);
                int queue = q;
                machine.poller.add(notify, () -> rings.tell(new VirtioRings.Notify(queue)));
            }
        }
    }

    /** A restored VM's devices get their state back before any vCPU can reach them (FIFO mailboxes). */
    void restore(Map<String, byte[]> states) {
        for (DeviceRef d : devices) {
            byte[] state = states.get(d.name());
            if (state != null) d.ref().tell(new DeviceActor.RestoreState(state));
        }
    }

    /** Host input for the guest's UART. */
    void consoleInput(byte[] data) {
        serial.ref().tell(new DeviceActor.HostInput(data));
    }

    /** Key presses for the guest's keyboard, in scan code set 2 ({@link I8042#receive}). */
    void keyboardInput(byte[] scanCodes) {
        keyboard.ref().tell(new DeviceActor.HostInput(scanCodes));
    }

    /**
     * Every device's state through its codec, by device name (devices that keep none are left
     * out). Ask only while the vCPUs are parked: nothing changes device registers then. Virtio
     * rings finish their in-flight requests and report their progress first, and stay quiet until
     * {@link #resumeRings()}.
     */
    CompletableFuture<Map<String, byte[]>> captureStates(Scheduler scheduler) {
        long round = recorder == null ? 0 : (captureRound = recorder.nextRound());
        List<CompletableFuture<Map.Entry<String, byte[]>>> all = new ArrayList<>();
        for (DeviceRef d : devices) {
            var rings = ringsByDevice.get(d.name());
            CompletableFuture<List<SplitQueue.State>> queues = rings == null ? CompletableFuture.completedFuture(null)
                    : AskPattern.<VirtioRings.Command, List<SplitQueue.State>>ask(rings, VirtioRings.CaptureQueues::new, RINGS, scheduler)
                    .toCompletableFuture();
            all.add(queues.thenCompose(q -> AskPattern.<DeviceActor.Command, DeviceActor.CapturedState>ask(d.ref(),
                    replyTo -> new DeviceActor.CaptureState(replyTo, round), ASK, scheduler).thenApply(c -> {
                byte[] state = c.state();
                if (rings != null && state != null) {
                    if (q == null) throw new IllegalStateException("virtio device " + d.name() + " did not report its queues");
                    state = VirtioDeviceState.CODEC.encode(new VirtioDeviceState(VirtioMmioTransport.CODEC.decode(state), q));
                }
                return Map.entry(d.name(), state == null ? NO_STATE : state);
            })).toCompletableFuture());
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApply(y -> {
            Map<String, byte[]> out = new LinkedHashMap<>();
            for (var f : all) {
                var e = f.join();
                if (e.getValue() != NO_STATE) out.put(e.getKey(), e.getValue());
            }
            return out;
        });
    }

    /** Placeholder for "this device keeps no state" while capturing. */
    private static final byte[] NO_STATE = new byte[0];

    /** The rings take requests again after {@link #captureStates}. */
    void resumeRings() {
        virtioRings.forEach(r -> r.tell(new VirtioRings.Unquiesce()));
    }

    /** Every device's metrics (those that answer in time). */
    CompletableFuture<List<DeviceActor.Metrics>> metrics(Scheduler scheduler) {
        List<CompletableFuture<DeviceActor.Metrics>> all = new ArrayList<>();
        for (DeviceRef d : devices) {
            all.add(AskPattern.<DeviceActor.Command, DeviceActor.Metrics>ask(d.ref(), DeviceActor.GetMetrics::new, ASK, scheduler)
                    .toCompletableFuture());
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handle((ok, failure) ->
                all.stream().filter(f -> !f.isCompletedExceptionally()).map(CompletableFuture::join).toList());
    }

    /**
     * Once the vCPUs have stopped: every device has handled its mailbox (guest output is not
     * lost) and every in-flight virtio request has finished (they read and write guest memory,
     * which goes away next). Completes with the devices' final metrics.
     */
    CompletableFuture<List<DeviceActor.Metrics>> drain(Scheduler scheduler) {
        List<CompletableFuture<Done>> rings = new ArrayList<>();
        for (var r : virtioRings) {
            rings.add(AskPattern.<VirtioRings.Command, Done>ask(r, VirtioRings.Quiesce::new, RINGS, scheduler).toCompletableFuture());
        }
        CompletableFuture<Void> quiet = CompletableFuture.allOf(rings.toArray(CompletableFuture[]::new)).exceptionally(x -> null);
        if (recorder != null) quiet = quiet.thenCompose(q -> recordFinalStates(scheduler));
        return metrics(scheduler).thenCombine(quiet, (metrics, q) -> metrics);
    }

    /** Each device notes its state as the VM ends, once nothing is in flight (a replay compares its own). */
    private CompletableFuture<Void> recordFinalStates(Scheduler scheduler) {
        List<CompletableFuture<Done>> all = new ArrayList<>();
        for (DeviceRef d : devices) {
            all.add(AskPattern.<DeviceActor.Command, Done>ask(d.ref(), DeviceActor.RecordFinalState::new, ASK, scheduler).toCompletableFuture());
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).exceptionally(x -> null);
    }

    /**
     * With a recording: the states of the last {@link #captureStates} became snapshot
     * {@code snapshotId} (a replay can start there). Call before the devices run again.
     */
    void recordCheckpoint(String snapshotId) {
        if (recorder != null) recorder.checkpoint(captureRound, snapshotId);
    }

    /** Ends the device recording, if there is one (after the device actors have handled their last message). */
    void closeRecording() {
        if (recorder != null) recorder.close();
    }

    /** Stops every device and ring actor and closes switch ports. */
    void stop() {
        devices.forEach(dev -> ctx.stop(dev.ref()));
        virtioRings.forEach(ctx::stop);
        closePorts();
    }

    /** A port of switch {@code name}, with the queue bound every port of this actor system has. */
    private SwitchPort switchPort(String name) {
        Switches switches = Switches.get(ctx.getSystem());
        return new SwitchPort(switches.named(name), switches.policy().maxQueuedPerPort());
    }

    /** Leaves the switches (the device actors are stopped, or stop with the VM). */
    void closePorts() {
        switchPorts.forEach(SwitchPort::close);
    }
}
