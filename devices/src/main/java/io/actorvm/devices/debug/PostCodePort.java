package io.actorvm.devices.debug;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;

import java.util.ArrayList;
import java.util.List;

/**
 * Port 0x80, the POST-code port: firmware and kernels write progress codes (and Linux uses it as
 * an I/O delay). Nothing reads them back on a PC, so writes need no immediate effect: the VMM
 * registers this port with KVM's coalesced PIO ring and the codes arrive in batches. The model
 * keeps the last codes for debugging.
 */
public final class PostCodePort implements BusDevice, io.actorvm.devices.Stateful<PostCodePort.State> {
    public static final int PORT = 0x80;
    private static final int HISTORY = 64;

    public record State(List<Integer> recentCodes, long writes) {}

    /** {@code lastCode}: the newest code, -1 before the first. */
    public record Metrics(long writes, long lastCode) implements DeviceMetrics {}

    public static final PostCodePortCodec CODEC = new PostCodePortCodec();

    private final List<Integer> recent = new ArrayList<>();
    private long writes;

    @Override
    public String name() {
        return "post-code";
    }

    @Override
    public long read(long offset, int size) {
        return -1L;
    }

    @Override
    public void write(long offset, int size, long value) {
        writes++;
        if (recent.size() == HISTORY) recent.removeFirst();
        recent.add((int) (value & 0xFF));
    }

    @Override
    public void restore(State s) {
        recent.clear();
        s.recentCodes().stream().skip(Math.max(0, s.recentCodes().size() - HISTORY)).forEach(c -> recent.add(c & 0xFF));
        writes = s.writes();
    }

    @Override
    public State state() {
        return new State(List.copyOf(recent), writes);
    }

    @Override
    public Metrics metrics() {
        return new Metrics(writes, recent.isEmpty() ? -1L : (long) recent.getLast());
    }

    @Override
    public PostCodePortCodec codec() {
        return CODEC;
    }
}
