package io.actorvm.vmm.actors.io;

import io.actorvm.io.buffering.BufferedWrite;
import io.actorvm.io.buffering.CoalescedRing;
import io.actorvm.io.buffering.IoBus;
import io.actorvm.kvm.VmExit;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.device.GuestLogLimit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Routes a vCPU's port and MMIO exits to device actors. Runs on the vCPU threads: a write is a
 * {@code tell} into the device's bounded backlog (the vCPU resumes at once unless the backlog is
 * full, and then waits for the device, as on hardware); a read is a message answered through the
 * vCPU's own {@link ReplyChannel}, and blocks only the vCPU that made it. Accesses nobody claims
 * behave as on a PC: reads see all ones, writes vanish; both are counted.
 *
 * <p>A vCPU told to stop is interrupted: a wait here then ends at once, the write is not sent and
 * the read sees all ones (counted as {@code stopped_accesses}); the guest never runs again.
 */
public final class ExitRouter implements ExitHandler {
    /** A device that does not answer a read in this time is treated as absent for that read. */
    public static final Duration READ_TIMEOUT = Duration.ofSeconds(5);

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ExitRouter.class);
    private final GuestLogLimit readFailureLog = GuestLogLimit.perDevice();
    /** Unclaimed accesses logged (at debug level) per VM before going quiet: a guest can make millions. */
    private static final int UNCLAIMED_LOG_LIMIT = 64;

    private final AtomicInteger unclaimedLogged = new AtomicInteger();
    private final ThreadLocal<ReplyChannel> replies = ThreadLocal.withInitial(() -> new ReplyChannel(Thread.currentThread()));
    private final IoBus<DeviceRef> ports;
    private final IoBus<DeviceRef> mmio;
    private final CoalescedRing ring; // shared by all vCPUs of the VM; null when not in use
    private final IoStats stats;

    public ExitRouter(IoBus<DeviceRef> ports, IoBus<DeviceRef> mmio, CoalescedRing ring, IoStats stats) {
        this.ports = ports;
        this.mmio = mmio;
        this.ring = ring;
        this.stats = stats;
    }

    @Override
    public IoStats stats() {
        return stats;
    }

    /**
     * Delivers everything KVM coalesced since the last drain, one batch message per device.
     * Called at every exit before the exit itself is handled, so buffered writes reach a device
     * before any read of it that follows. The ring is per VM: draining is serialised across vCPUs.
     */
    @Override
    public void drainCoalesced() {
        if (ring == null) return;
        List<CoalescedRing.Entry> entries;
        synchronized (ring) {
            entries = ring.drain();
        }
        if (entries.isEmpty()) return;
        stats.coalescedBatches.increment();
        stats.coalescedWrites.add(entries.size());
        stats.largestCoalescedBatch.accumulate(entries.size());
        Map<DeviceRef, List<BufferedWrite>> byDevice = new LinkedHashMap<>();
        for (CoalescedRing.Entry e : entries) {
            var target = (e.pio() ? ports : mmio).lookup(e.address(), e.length());
            if (target.isEmpty()) {
                (e.pio() ? stats.unknownPortWrites : stats.unknownMmioWrites).increment();
                continue;
            }
            byDevice.computeIfAbsent(target.get().owner(), k -> new ArrayList<>())
                    .add(new BufferedWrite(target.get().offset(), e.length(), e.value()));
        }
        byDevice.forEach((dev, writes) -> send(dev, new DeviceActor.WriteBatch(writes)));
    }

    @Override
    public void portOut(VmExit.PortOut out) {
        stats.portWrites.increment();
        var target = ports.lookup(out.port(), out.size());
        if (target.isEmpty()) {
            stats.unknownPortWrites.increment();
            unclaimed("port write", out.port(), out.size());
            return;
        }
        DeviceRef dev = target.get().owner();
        long offset = target.get().offset();
        send(dev, out.count() == 1 ? new DeviceActor.Write(offset, out.size(), out.value(0))
                : new DeviceActor.RepWrite(offset, out));
    }

    @Override
    public byte[] portIn(VmExit.PortIn in) {
        stats.portReads.increment();
        byte[] data = new byte[in.size() * in.count()];
        var target = ports.lookup(in.port(), in.size());
        if (target.isEmpty()) {
            stats.unknownPortReads.increment();
            unclaimed("port read", in.port(), in.size());
            Arrays.fill(data, (byte) 0xFF);
            return data;
        }
        for (int i = 0; i < in.count(); i++) {
            putLittleEndian(data, i * in.size(), in.size(), read(target.get().owner(), target.get().offset(), in.size()));
        }
        return data;
    }

    @Override
    public void mmioWrite(VmExit.MmioWrite w) {
        stats.mmioWrites.increment();
        var target = mmio.lookup(w.address(), w.data().length);
        if (target.isEmpty()) {
            stats.unknownMmioWrites.increment();
            unclaimed("MMIO write", w.address(), w.data().length);
            return;
        }
        send(target.get().owner(), new DeviceActor.Write(target.get().offset(), w.data().length, w.value()));
    }

    @Override
    public byte[] mmioRead(VmExit.MmioRead r) {
        stats.mmioReads.increment();
        byte[] data = new byte[r.length()];
        var target = mmio.lookup(r.address(), r.length());
        if (target.isEmpty()) {
            stats.unknownMmioReads.increment();
            unclaimed("MMIO read", r.address(), r.length());
            Arrays.fill(data, (byte) 0xFF);
            return data;
        }
        putLittleEndian(data, 0, r.length(), read(target.get().owner(), target.get().offset(), r.length()));
        return data;
    }

    private void unclaimed(String what, long address, int size) {
        if (LOG.isDebugEnabled() && unclaimedLogged.incrementAndGet() <= UNCLAIMED_LOG_LIMIT) {
            LOG.debug("unclaimed {} at 0x{} ({} bytes)", what, Long.toHexString(address), size);
        }
    }

    /** Sends a write once the device's backlog has a place for it. */
    private void send(DeviceRef device, DeviceActor.Command write) {
        try {
            device.backlog().enter();
        } catch (InterruptedException e) {
            stopped();
            return;
        }
        device.ref().tell(write);
    }

    private long read(DeviceRef device, long offset, int size) {
        ReplyChannel channel = replies.get();
        long ticket = channel.open();
        device.ref().tell(new DeviceActor.Read(offset, size, channel, ticket));
        try {
            return channel.await(ticket, System.nanoTime() + READ_TIMEOUT.toNanos());
        } catch (TimeoutException e) {
            // The vCPU cannot wait forever, and the guest gets what an absent device gives; that
            // is an error of ours or of the device, so it is counted and said (within a budget).
            stats.readTimeouts.increment();
            readFailureLog.admit().ifPresent(left -> LOG.warn("a read of device {} at offset 0x{} got no answer within {} s; "
                    + "the guest sees all ones ({} such reads so far){}", device.name(), Long.toHexString(offset),
                    READ_TIMEOUT.toSeconds(), stats.readTimeouts.sum(), GuestLogLimit.suppressedNote(left)));
            return -1L;
        } catch (InterruptedException e) {
            stopped();
            return -1L;
        }
    }

    /** The vCPU was interrupted because it is stopping: keep the request for its loop, count the access. */
    private void stopped() {
        Thread.currentThread().interrupt();
        stats.stoppedAccesses.increment();
    }

    private static void putLittleEndian(byte[] dst, int offset, int size, long value) {
        for (int i = 0; i < size; i++) dst[offset + i] = (byte) (value >>> (8 * i));
    }
}
