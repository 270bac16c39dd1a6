package io.actorvm.vmm.actors.record;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceStateException;
import io.actorvm.devices.DeviceStates;
import io.actorvm.devices.ErrorState;
import io.actorvm.devices.HostInput;
import io.actorvm.devices.Stateful;
import io.actorvm.devices.proto.Access;
import io.actorvm.devices.proto.DeviceLogHeader;
import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.Fill;
import io.actorvm.devices.proto.Item;
import io.actorvm.devices.proto.LoggedDevice;
import io.actorvm.devices.proto.Request;
import io.actorvm.devices.record.ChainData;
import io.actorvm.devices.record.DeviceLogException;
import io.actorvm.devices.record.DeviceLogReader;
import io.actorvm.devices.record.DivergenceException;
import io.actorvm.devices.record.HostCall;
import io.actorvm.devices.record.Recorded;
import io.actorvm.devices.virtio.VirtioDevice;
import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.devices.virtio.net.VirtioNet;
import io.actorvm.devices.virtio.rng.VirtioRng;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;

/**
 * Feeds a device recording to freshly built device models, without KVM and without actors: the
 * same calls in the same order, the host's inputs from the recording, a scratch guest memory for
 * the buffers of virtio requests. Every read must answer what it answered, every call must take
 * and give the same things, and every model must end in the recorded state; the first step where
 * that fails is the {@link Divergence}. A device bug seen on a VM reproduces here, deterministically,
 * under a debugger.
 */
public final class DeviceReplay {
    /** Where the replayed models first did something else than the recorded ones. */
    public record Divergence(long step, String device, String call, String detail) {
        @Override
        public String toString() {
            return "step " + step + ", device " + device + ", " + call + ": " + detail;
        }
    }

    /**
     * What a replay went through; {@code divergence} null when every step matched. {@code skipped}:
     * steps before the snapshot a replay started from; {@code statesChecked}: device states compared
     * (at snapshots taken during the run, and at its end).
     */
    public record Result(String vm, long steps, long skipped, Map<String, Long> stepsByDevice, long statesChecked, Divergence divergence) {
        public boolean matched() {
            return divergence == null;
        }
    }

    private record Replayed(String name, BusDevice model, VirtioDevice virtio, VirtioInterrupt interrupt) {}

    private final List<Replayed> devices = new ArrayList<>();
    private final GuestMemory memory;

    private DeviceReplay(GuestMemory memory) {
        this.memory = memory;
    }

    /** Replays {@code file} from its start, with the models as built. */
    public static Result run(Path file) throws IOException {
        return run(file, null, Map.of());
    }

    /**
     * Replays {@code file}: from its start, or ({@code fromSnapshot}) from the states the devices
     * had when that snapshot was taken during the recorded run. A device named in
     * {@code substitutes} is replaced by what the function makes of the freshly built model (a
     * test changes a model this way to see the replay catch it).
     */
    public static Result run(Path file, String fromSnapshot, Map<String, UnaryOperator<BusDevice>> substitutes) throws IOException {
        long fromRound = fromSnapshot == null ? 0 : round(file, fromSnapshot);
        try (DeviceLogReader log = DeviceLogReader.open(file)) {
            DeviceLogHeader header = log.header();
            GuestMemory memory;
            try {
                memory = GuestMemory.allocate(new AddressMap(header.getRamSize()));
            } catch (IllegalArgumentException e) {
                throw new DeviceLogException(file + ": the recorded RAM size does not fit a VM: " + e.getMessage());
            }
            try (memory) {
                DeviceReplay replay = new DeviceReplay(memory);
                replay.build(file, header, substitutes);
                return replay.feed(log, header.getVm(), fromRound);
            }
        }
    }

    private void build(Path file, DeviceLogHeader header, Map<String, UnaryOperator<BusDevice>> substitutes) throws DeviceLogException {
        List<DeviceModels.Pc> pc = DeviceModels.pc(Recorded.console(null), Recorded.irqLine(null), Recorded.irqLine(null), Recorded.control(null), Recorded.clock(null));
        List<LoggedDevice> logged = header.getDevicesList();
        if (logged.size() < pc.size()) throw new DeviceLogException(file + ": the recording names " + logged.size() + " devices; a VM has at least " + pc.size());
        for (int i = 0; i < logged.size(); i++) {
            LoggedDevice d = logged.get(i);
            Replayed r;
            if (i < pc.size()) {
                BusDevice model = pc.get(i).model();
                r = new Replayed(model.name(), model, null, null);
            } else {
                int slot = i - pc.size();
                VirtioDevice model = switch (d.getKind()) {
                    case "virtio-blk" -> new VirtioBlock(Recorded.replayDisk(Path.of(d.getDiskPath()), d.getReadOnly(), d.getDiskBytes()), d.getDiskId());
                    case "virtio-net" -> new VirtioNet(d.getMac().toByteArray(), Recorded.net(null));
                    case "virtio-rng" -> new VirtioRng(Recorded.entropy(null));
                    default -> throw new DeviceLogException(file + ": device " + d.getName() + " is of a kind this build cannot make: " + d.getKind());
                };
                VirtioInterrupt interrupt = new VirtioInterrupt(Recorded.irqEdge(null));
                r = new Replayed(DeviceModels.virtioName(model, slot),
                        new VirtioMmioTransport(model, Recorded.virtioHost(null), interrupt, memory), model, interrupt);
            }
            if (!r.name().equals(d.getName())) {
                throw new DeviceLogException(file + ": device " + i + " was " + d.getName() + " when recorded; this build makes " + r.name());
            }
            UnaryOperator<BusDevice> substitute = substitutes.get(r.name());
            devices.add(substitute == null ? r : new Replayed(r.name(), substitute.apply(r.model()), r.virtio(), r.interrupt()));
        }
    }

    /** The capture round of the checkpoint that became {@code snapshot}; a one-line error if the recording has none. */
    private static long round(Path file, String snapshot) throws IOException {
        List<String> known = new ArrayList<>();
        try (DeviceLogReader log = DeviceLogReader.open(file)) {
            for (DeviceStep step = log.next(); step != null; step = log.next()) {
                if (!step.hasCheckpoint()) continue;
                if (step.getCheckpoint().getSnapshotId().equals(snapshot)) return step.getCheckpoint().getRound();
                known.add(step.getCheckpoint().getSnapshotId());
            }
        }
        throw new DeviceLogException(file + " has no snapshot " + snapshot + " taken during the recorded run"
                + (known.isEmpty() ? " (it has none)" : " (it has " + String.join(", ", known) + ")"));
    }

    /**
     * Every step in order. From a snapshot ({@code fromRound} > 0), a device's steps count only
     * after its state of that capture round, which it is restored to first.
     */
    private Result feed(DeviceLogReader log, String vm, long fromRound) throws IOException {
        Map<String, Long> byDevice = new LinkedHashMap<>();
        boolean[] live = new boolean[devices.size()];
        java.util.Arrays.fill(live, fromRound == 0);
        long n = 0, skipped = 0, states = 0;
        for (DeviceStep step = log.next(); step != null; step = log.next()) {
            n++;
            if (step.hasCheckpoint()) continue;
            if (step.getDevice() >= devices.size()) throw new DeviceLogException("step " + n + " names device " + step.getDevice() + " of " + devices.size());
            Replayed d = devices.get(step.getDevice());
            String detail;
            if (!live[step.getDevice()]) {
                if (!step.hasCaptured() || step.getCaptured().getRound() != fromRound) {
                    skipped++;
                    continue;
                }
                live[step.getDevice()] = true;
                detail = restore(d.model(), step.getCaptured().getState().toByteArray());
            } else {
                if (step.hasFinalState() || step.hasCaptured()) states++;
                try {
                    detail = replay(d, step);
                } catch (DivergenceException e) {
                    detail = e.getMessage();
                } catch (io.actorvm.mmu.GuestMemoryException e) {
                    // The recording's own data (a chain's segments) is input too: outside RAM is a damaged file.
                    throw new DeviceLogException("step " + n + " (" + describe(step) + ") names memory outside the VM's RAM: " + e.getMessage());
                }
            }
            byDevice.merge(d.name(), 1L, Long::sum);
            if (detail != null) return new Result(vm, n, skipped, byDevice, states, new Divergence(n, d.name(), describe(step), detail));
        }
        return new Result(vm, n, skipped, byDevice, states, null);
    }

    private static String restore(BusDevice model, byte[] state) {
        try {
            DeviceStates.restore(model, state);
            return null;
        } catch (DeviceStateException e) {
            return "the captured state does not restore: " + e.getMessage();
        }
    }

    /** One step; null when it matched, else what differed. */
    private String replay(Replayed d, DeviceStep step) {
        BusDevice model = d.model();
        return switch (step.getCallCase()) {
            case WRITE -> call(step, () -> {
                model.write(step.getWrite().getOffset(), step.getWrite().getSize(), step.getWrite().getValue());
                model.flush();
                return 0;
            });
            case READ -> {
                long[] value = new long[1];
                String detail = call(step, () -> value[0] = model.read(step.getRead().getOffset(), step.getRead().getSize()));
                if (detail == null && value[0] != step.getRead().getValue()) {
                    detail = "read 0x" + Long.toHexString(value[0]) + ", recorded 0x" + Long.toHexString(step.getRead().getValue());
                }
                yield detail;
            }
            case REP_WRITE -> call(step, () -> {
                for (long v : step.getRepWrite().getValuesList()) model.write(step.getRepWrite().getOffset(), step.getRepWrite().getSize(), v);
                model.flush();
                return 0;
            });
            case BATCH -> call(step, () -> {
                for (Access w : step.getBatch().getWritesList()) model.write(w.getOffset(), w.getSize(), w.getValue());
                model.flush();
                return 0;
            });
            case HOST_INPUT -> model instanceof HostInput sink ? call(step, () -> {
                int accepted = sink.receive(step.getHostInput().toByteArray());
                HostCall.current().add(Item.newBuilder().setAccepted(accepted).build());
                return accepted;
            }) : "the model takes no host input";
            case RESTORE -> call(step, () -> {
                DeviceStates.restore(model, step.getRestore().toByteArray());
                return 0;
            });
            case FAIL -> model instanceof ErrorState e ? call(step, () -> {
                e.fail(step.getFail());
                return 0;
            }) : "the model has no error state";
            case RINGS_STOPPED -> model instanceof VirtioMmioTransport t ? call(step, () -> {
                t.ringsStopped();
                return 0;
            }) : "the model is no virtio transport";
            case REQUEST -> request(d, step);
            case FILL -> fill(d, step);
            case USED_INTERRUPT -> d.interrupt() == null ? "the model is no virtio transport" : call(step, () -> {
                d.interrupt().raise(VirtioInterrupt.USED_BUFFER);
                return 0;
            });
            case FINAL_STATE -> finalState(model, step.getFinalState().toByteArray());
            case CAPTURED -> finalState(model, step.getCaptured().getState().toByteArray());
            case CHECKPOINT -> null;
            case CALL_NOT_SET -> "the step names no call (a newer recording format?)";
        };
    }

    private String request(Replayed d, DeviceStep step) {
        if (d.virtio() == null) return "the model is no virtio device";
        Request r = step.getRequest();
        if (r.getQueue() >= d.virtio().queueCount() || d.virtio().isInbound(r.getQueue())) return "queue " + r.getQueue() + " takes no requests";
        DescriptorChain chain = ChainData.chain(r.getHead(), r.getSegmentsList());
        ChainData.putReadable(chain, memory, r.getReadable().toByteArray());
        long[] written = new long[1];
        String[] failure = {""};
        String detail = call(step, () -> {
            try {
                written[0] = d.virtio().handler(r.getQueue()).process(chain, memory);
            } catch (IOException | RuntimeException e) {
                if (e instanceof DivergenceException de) throw de;
                failure[0] = e.getClass().getName();
            }
            if (r.getRaised()) d.interrupt().raise(VirtioInterrupt.USED_BUFFER);
            return 0;
        });
        if (detail != null) return detail;
        if (!failure[0].equals(r.getFailure())) {
            return "the request " + (failure[0].isEmpty() ? "completed" : "failed with " + failure[0]) + ", recorded "
                    + (r.getFailure().isEmpty() ? "completed" : "failed with " + r.getFailure());
        }
        if (!failure[0].isEmpty()) return null;
        if (written[0] != r.getWritten()) return "the request wrote " + written[0] + " bytes, recorded " + r.getWritten();
        int crc = ChainData.writtenCrc(chain, memory, written[0]);
        if (crc != r.getWrittenCrc()) {
            return "the request's written bytes have crc " + Integer.toHexString(crc) + ", recorded " + Integer.toHexString(r.getWrittenCrc());
        }
        return null;
    }

    private String fill(Replayed d, DeviceStep step) {
        if (d.virtio() == null) return "the model is no virtio device";
        Fill f = step.getFill();
        if (f.getQueue() >= d.virtio().queueCount() || !d.virtio().isInbound(f.getQueue())) return "queue " + f.getQueue() + " is not inbound";
        DescriptorChain chain = ChainData.chain(f.getHead(), f.getSegmentsList());
        long[] written = new long[1];
        String detail = call(step, () -> written[0] = d.virtio().inbound(f.getQueue()).fill(f.getData().toByteArray(), chain, memory));
        if (detail != null) return detail;
        if (written[0] != f.getWritten()) return "the fill wrote " + written[0] + " bytes, recorded " + f.getWritten();
        int crc = ChainData.writtenCrc(chain, memory, written[0]);
        return crc == f.getWrittenCrc() ? null
                : "the fill's bytes have crc " + Integer.toHexString(crc) + ", recorded " + Integer.toHexString(f.getWrittenCrc());
    }

    private static String finalState(BusDevice model, byte[] recorded) {
        if (!(model instanceof Stateful<?> s)) return "the model keeps no state; the recording has one";
        byte[] mine = s.encodedState();
        if (Arrays.equals(mine, recorded)) return null;
        return "the model's state is " + decoded(mine) + ", recorded " + decoded(recorded);
    }

    private static String decoded(byte[] state) {
        try {
            return String.valueOf(DeviceStates.decode(state));
        } catch (DeviceStateException e) {
            return "(" + state.length + " bytes that do not decode)";
        }
    }

    /**
     * Runs {@code body} as the replay of {@code step}: inputs from the recorded items, and then
     * the items taken and given compared with the recorded ones. Null when they match.
     */
    private static String call(DeviceStep step, LongSupplier body) {
        HostCall call = HostCall.replaying(step.getItemsList()).enter();
        String threw = "";
        try {
            body.getAsLong();
        } catch (DivergenceException e) {
            return e.getMessage();
        } catch (RuntimeException e) {
            threw = e.getClass().getName();
        } finally {
            call.leave();
        }
        if (!threw.equals(step.getThrew())) {
            return (threw.isEmpty() ? "the call returned" : "the call threw " + threw) + ", recorded "
                    + (step.getThrew().isEmpty() ? "returned" : "threw " + step.getThrew());
        }
        return call.mismatch(step.getItemsList());
    }

    /** A step in words: the call and its register. */
    static String describe(DeviceStep step) {
        return switch (step.getCallCase()) {
            case WRITE -> "write of 0x" + Long.toHexString(step.getWrite().getValue()) + " to register 0x" + Long.toHexString(step.getWrite().getOffset())
                    + " (" + step.getWrite().getSize() + " bytes)";
            case READ -> "read of register 0x" + Long.toHexString(step.getRead().getOffset()) + " (" + step.getRead().getSize() + " bytes)";
            case REP_WRITE -> "rep write of " + step.getRepWrite().getValuesCount() + " items to register 0x" + Long.toHexString(step.getRepWrite().getOffset());
            case BATCH -> "batch of " + step.getBatch().getWritesCount() + " writes";
            case HOST_INPUT -> "host input of " + step.getHostInput().size() + " bytes";
            case RESTORE -> "restore of a stored state";
            case FAIL -> "failure from the host (" + step.getFail() + ")";
            case RINGS_STOPPED -> "rings stopped";
            case REQUEST -> "request " + step.getRequest().getHead() + " of queue " + step.getRequest().getQueue();
            case FILL -> "fill of buffer " + step.getFill().getHead() + " of queue " + step.getFill().getQueue();
            case USED_INTERRUPT -> "used-buffer interrupt of queue " + step.getUsedInterrupt();
            case FINAL_STATE -> "final state";
            case CAPTURED -> "state captured for a snapshot (round " + step.getCaptured().getRound() + ")";
            case CHECKPOINT -> "snapshot " + step.getCheckpoint().getSnapshotId();
            case CALL_NOT_SET -> "unknown call";
        };
    }
}
