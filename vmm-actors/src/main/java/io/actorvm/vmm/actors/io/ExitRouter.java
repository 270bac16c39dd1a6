package io.actorvm.vmm.actors.io;

import io.actorvm.io.buffering.BufferedWrite;
import io.actorvm.io.buffering.CoalescedRing;
import io.actorvm.io.buffering.IoBus;
import io.actorvm.kvm.VmExit;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import io.actorvm.vmm.actors.device.GuestLogLimit;

/**
 * Routes a vCPU's port and MMIO exits to device actors. Runs on the vCPU threads: writes are
 * {@code tell}s (the vCPU resumes at once), reads are asks that block only the vCPU that made
 * them. Accesses nobody claims behave as on a PC: reads see all ones, writes vanish; both are counted.
 */
public final class ExitRouter implements ExitHandler {
    /** A device that does not answer a read in this time is treated as absent for that read. */
    public static final Duration READ_TIMEOUT = Duration.ofSeconds(5);

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ExitRouter.class);
    private final GuestLogLimit readFailureLog = GuestLogLimit.perDevice();
    /** Unclaimed accesses logged (at debug level) per VM before going quiet: a guest can make millions. */
    private static final int UNCLAIMED_LOG_LIMIT = 64;

    private final java.util.concurrent.atomic.AtomicInteger unclaimedLogged = new java.util.concurrent.atomic.AtomicInteger();
    private final IoBus<DeviceRef> ports;
    private final IoBus<DeviceRef> mmio;
    private final CoalescedRing ring; // shared by all vCPUs of the VM; null when not in use
    private final Scheduler scheduler;
    private final IoStats stats;

    public ExitRouter(IoBus<DeviceRef> ports, IoBus<DeviceRef> mmio, CoalescedRing ring, Scheduler scheduler, IoStats stats) {
        this.ports = ports;
        this.mmio = mmio;
        this.ring = ring;
        this.scheduler = scheduler;
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
        byDevice.forEach((dev, writes) -> dev.ref().tell(new DeviceActor.WriteBatch(writes)));
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
        for (int i = 0; i < out.count(); i++) {
            target.get().owner().ref().tell(new DeviceActor.Write(target.get().offset(), out.size(), out.value(i)));
        }
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
        target.get().owner().ref().tell(new DeviceActor.Write(target.get().offset(), w.data().length, w.value()));
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

    private long read(DeviceRef device, long offset, int size) {
        try {
            return AskPattern.<DeviceActor.Command, DeviceActor.ReadResult>ask(device.ref(),
                            replyTo -> new DeviceActor.Read(offset, size, replyTo), READ_TIMEOUT, scheduler)
                    .toCompletableFuture().get(READ_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS).value();
        } catch (ExecutionException | TimeoutException e) {
            // The vCPU cannot wait forever, and the guest gets what an absent device gives; that
            // is an error of ours or of the device, so it is counted and said (within a budget).
            stats.readTimeouts.increment();
            readFailureLog.admit().ifPresent(left -> LOG.warn("a read of device {} at offset 0x{} got no answer within {} s; "
                    + "the guest sees all ones ({} such reads so far){}", device.name(), Long.toHexString(offset),
                    READ_TIMEOUT.toSeconds(), stats.readTimeouts.sum(), GuestLogLimit.suppressedNote(left)));
            return -1L;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1L;
        }
    }

    private static void putLittleEndian(byte[] dst, int offset, int size, long value) {
        for (int i = 0; i < size; i++) dst[offset + i] = (byte) (value >>> (8 * i));
    }
}
