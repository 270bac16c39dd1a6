package io.actorvm.vmm.actors.io;

import io.actorvm.io.buffering.BufferedWrite;
import io.actorvm.io.buffering.CoalescedRing;
import io.actorvm.io.buffering.IoBus;
import io.actorvm.kvm.VmExit;
import io.actorvm.vmm.actors.device.DeviceBacklog;
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
 * Routes a vCPU's port and MMIO exits to device actors. Runs on the vCPU threads: a write is put in
 * the device's bounded {@link DeviceBacklog} (the vCPU resumes at once unless the backlog is full,
 * and then waits for the device, as on hardware); a read is put there too and answered through the
 * vCPU's own {@link ReplyChannel}, and blocks only the vCPU that made it. Neither allocates: the
 * backlog's slots and the channel are reused, and the actor is told only when it was idle.
 * Accesses nobody claims behave as on a PC: reads see all ones, writes vanish; both are counted.
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
    private final ThreadLocal<VcpuSide> vcpus = ThreadLocal.withInitial(VcpuSide::new);

    /** What each vCPU thread reuses for every read: its reply channel, and buffers for the bytes it reads. */
    private static final class VcpuSide {
        final ReplyChannel replies = new ReplyChannel(Thread.currentThread());
        private final byte[][] small = new byte[9][]; // by length: every one-item read (1, 2, 4 or 8 bytes)

        /** A buffer of {@code n} bytes, valid until this vCPU's next read; a {@code rep ins} gets its own. */
        byte[] buffer(int n) {
            if (n >= small.length) return new byte[n];
            byte[] b = small[n];
            return b != null ? b : (small[n] = new byte[n]);
        }
    }
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
            var claim = (e.pio() ? ports : mmio).claimOf(e.address(), e.length());
            if (claim == null) {
                (e.pio() ? stats.unknownPortWrites : stats.unknownMmioWrites).increment();
                continue;
            }
            byDevice.computeIfAbsent(claim.owner(), k -> new ArrayList<>())
                    .add(new BufferedWrite(e.address() - claim.range().base(), e.length(), e.value()));
        }
        byDevice.forEach((dev, writes) -> {
            try {
                dev.wake(dev.backlog().batch(writes));
            } catch (InterruptedException ie) {
                stopped();
            }
        });
    }

    @Override
    public void portOut(VmExit.PortOut out) {
        stats.portWrites.increment();
        var claim = ports.claimOf(out.port(), out.size());
        if (claim == null) {
            stats.unknownPortWrites.increment();
            unclaimed("port write", out.port(), out.size());
            return;
        }
        DeviceRef dev = claim.owner();
        long offset = out.port() - claim.range().base();
        try {
            dev.wake(out.count() == 1 ? dev.backlog().write(offset, out.size(), out.value(0)) : dev.backlog().repWrite(offset, out));
        } catch (InterruptedException e) {
            stopped();
        }
    }

    /** The bytes read, in a buffer this vCPU reuses: valid until its next read. */
    @Override
    public byte[] portIn(VmExit.PortIn in) {
        stats.portReads.increment();
        VcpuSide vcpu = vcpus.get();
        byte[] data = vcpu.buffer(in.size() * in.count());
        var claim = ports.claimOf(in.port(), in.size());
        if (claim == null) {
            stats.unknownPortReads.increment();
            unclaimed("port read", in.port(), in.size());
            Arrays.fill(data, (byte) 0xFF);
            return data;
        }
        for (int i = 0; i < in.count(); i++) {
            putLittleEndian(data, i * in.size(), in.size(), read(vcpu.replies, claim.owner(), in.port() - claim.range().base(), in.size()));
        }
        return data;
    }

    @Override
    public void mmioWrite(VmExit.MmioWrite w) {
        stats.mmioWrites.increment();
        var claim = mmio.claimOf(w.address(), w.data().length);
        if (claim == null) {
            stats.unknownMmioWrites.increment();
            unclaimed("MMIO write", w.address(), w.data().length);
            return;
        }
        DeviceRef dev = claim.owner();
        try {
            dev.wake(dev.backlog().write(w.address() - claim.range().base(), w.data().length, w.value()));
        } catch (InterruptedException e) {
            stopped();
        }
    }

    /** The bytes read, in a buffer this vCPU reuses: valid until its next read. */
    @Override
    public byte[] mmioRead(VmExit.MmioRead r) {
        stats.mmioReads.increment();
        VcpuSide vcpu = vcpus.get();
        byte[] data = vcpu.buffer(r.length());
        var claim = mmio.claimOf(r.address(), r.length());
        if (claim == null) {
            stats.unknownMmioReads.increment();
            unclaimed("MMIO read", r.address(), r.length());
            Arrays.fill(data, (byte) 0xFF);
            return data;
        }
        putLittleEndian(data, 0, r.length(), read(vcpu.replies, claim.owner(), r.address() - claim.range().base(), r.length()));
        return data;
    }

    private void unclaimed(String what, long address, int size) {
        if (LOG.isDebugEnabled() && unclaimedLogged.incrementAndGet() <= UNCLAIMED_LOG_LIMIT) {
            LOG.debug("unclaimed {} at 0x{} ({} bytes)", what, Long.toHexString(address), size);
        }
    }

    private long read(ReplyChannel channel, DeviceRef device, long offset, int size) {
        long ticket = channel.open();
        try {
            device.wake(device.backlog().read(offset, size, channel, ticket));
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
