package io.actorvm.devices.debug;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.VmControl;


/**
 * A debug-exit port as QEMU's isa-debug-exit: a guest that writes a byte here ends the VM, and
 * the byte becomes the exit status (QEMU reports {@code (value << 1) | 1}; we report the value
 * itself, so a guest writing 0 exits 0). Test guests use it to end themselves.
 */
public final class DebugExit implements BusDevice, io.actorvm.devices.Stateful<DebugExit.State> {
    public static final int DEFAULT_PORT = 0x501;

    /** What a snapshot keeps: whether the guest has already asked to exit, and with what. */
    public record State(int lastStatus, long exits) {}

    public record Metrics(long exitRequests) implements DeviceMetrics {}

    public static final DebugExitCodec CODEC = new DebugExitCodec();

    private final VmControl vm;
    private int lastStatus = -1;
    private long exits;

    public DebugExit(VmControl vm) {
        this.vm = vm;
    }

    @Override
    public String name() {
        return "debug-exit";
    }

    @Override
    public long read(long offset, int size) {
        return -1L; // nothing to read, like an unclaimed port
    }

    @Override
    public void write(long offset, int size, long value) {
        lastStatus = (int) (value & 0xFF);
        exits++;
        vm.requestExit(lastStatus);
    }

    @Override
    public State state() {
        return new State(lastStatus, exits);
    }

    /** Puts back what the guest asked for; restoring asks the VM for nothing (the snapshot's VM was running). */
    @Override
    public void restore(State s) {
        lastStatus = s.lastStatus() < 0 ? -1 : s.lastStatus() & 0xFF;
        exits = Math.max(0, s.exits());
    }

    @Override
    public Metrics metrics() {
        return new Metrics(exits);
    }

    @Override
    public DebugExitCodec codec() {
        return CODEC;
    }
}
