package io.actorvm.vmm.actors;

import io.actorvm.mmu.AddressMap;
import io.actorvm.persistence.proto.MemoryLayout;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A machine built before its snapshot exists: a live migration's target builds the KVM VM, its
 * irqchip and PIT, the memory slots over the memory file the pages are being written to, and the
 * vCPUs ({@link Machine#shell}) while the guest still runs on the source — QEMU's {@code -incoming}
 * does the same — and loads the VM's state into it as soon as that state has arrived and been
 * checked ({@link #loadAhead}), while the target makes its snapshot durable and the source commits
 * the move; the restore after the commit only takes it.
 *
 * <p>A file written after it is mapped {@code MAP_PRIVATE} shows through the mapping on Linux for
 * every page the mapping has not copied yet, and nothing touches the mapping until the guest runs.
 * Once the migration has ended, the machine is kept by the memory file's final path until a
 * restore of a snapshot with that file takes it ({@link #take}), or for {@link #KEPT} at most
 * (a move that was not committed never restores here).
 */
public final class PreparedMachine implements AutoCloseable {
    static final Duration KEPT = Duration.ofMinutes(2);
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PreparedMachine.class);
    private static final Map<Path, PreparedMachine> KEPT_BY_FILE = new ConcurrentHashMap<>();

    /** Null once taken or closed. */
    private Machine machine;

    private PreparedMachine(Machine machine) {
        this.machine = machine;
    }

    /**
     * Builds a machine with {@code layout}'s RAM over {@code memoryFile} (its regions end to end;
     * the file must already have its full length) and {@code cpus} vCPUs, dirty-logged as a VM with
     * a data directory is. Fails as building any machine does (no KVM, too many vCPUs, a bad file),
     * or when {@code layout} is not how a VM of its size is laid out.
     */
    public static PreparedMachine build(Path memoryFile, MemoryLayout layout, int cpus) {
        long ram = layout.getRegionsList().stream().mapToLong(MemoryLayout.Region::getSize).sum();
        AddressMap map = new AddressMap(ram);
        var expected = map.ramRanges().stream().map(r -> MemoryLayout.Region.newBuilder().setGuestAddress(r.start()).setSize(r.size()).build()).toList();
        if (!expected.equals(layout.getRegionsList())) throw new IllegalArgumentException("RAM regions unlike a VM of " + ram + " bytes");
        return new PreparedMachine(Machine.shell(map, memoryFile, io.actorvm.mmu.HugePages.NONE, true, cpus));
    }

    /**
     * The migration has ended and its memory file is now {@code memoryFile}: this machine waits
     * there for the restore that takes it, and is closed if none does within {@link #KEPT}. Does
     * not wait for a load ahead under way (the source waits for the target's answer meanwhile).
     */
    public void keep(Path memoryFile) {
        Path key = memoryFile.toAbsolutePath().normalize();
        PreparedMachine before = KEPT_BY_FILE.put(key, this);
        if (before != null && before != this) before.close();
        CompletableFuture.runAsync(() -> {
            if (KEPT_BY_FILE.remove(key, this)) close();
        }, CompletableFuture.delayedExecutor(KEPT.toMillis(), TimeUnit.MILLISECONDS));
    }

    /**
     * Loads {@code snapshot}'s state into this machine on a thread of its own, as a restore would
     * (running no guest code), while the caller makes that snapshot durable: the restore after the
     * move commits then has nothing left to load. A load that fails closes the machine (the
     * restore builds one then); {@link #take} and {@link #close} wait for a load under way.
     */
    public void loadAhead(SnapshotStore store, VmSnapshots.Loaded snapshot) {
        Thread.ofPlatform().daemon().name("load-ahead-" + snapshot.leaf().getSnapshotId()).start(() -> {
            synchronized (this) {
                if (machine == null) return; // closed before this thread ran
                try {
                    machine.load(store, snapshot, VmEvents.config(snapshot.config(), store.dataDir()).disabledCpuFeatures());
                } catch (RuntimeException | Error e) {
                    LOG.info("snapshot {}: its state is not loaded ahead of the restore: {}", snapshot.leaf().getSnapshotId(), e.getMessage());
                    close();
                }
            }
        });
    }

    /**
     * The machine kept for {@code memoryFile}, when it has {@code map}'s RAM and {@code cpus} vCPUs
     * and holds no state or {@code wanted}'s (one that does not fit is closed); null when none is
     * kept. Waits for a load ahead under way. The caller owns what it gets.
     */
    static Machine take(Path memoryFile, AddressMap map, int cpus, Machine.LoadedState wanted) {
        PreparedMachine p = KEPT_BY_FILE.remove(memoryFile.toAbsolutePath().normalize());
        if (p == null) return null;
        synchronized (p) {
            Machine m = p.machine;
            p.machine = null;
            if (m != null && m.memory.addressMap().equals(map) && m.vcpus.size() == cpus
                    && (m.loaded == null || m.loaded.equals(wanted))) return m;
            if (m != null) m.close();
            return null;
        }
    }

    /** True while a machine built ahead waits for a restore from {@code memoryFile}. */
    public static boolean isKept(Path memoryFile) {
        return KEPT_BY_FILE.containsKey(memoryFile.toAbsolutePath().normalize());
    }

    /** True while a machine kept for {@code memoryFile} holds its snapshot's state (loaded ahead). Waits for a load under way. */
    public static boolean isLoaded(Path memoryFile) {
        PreparedMachine p = KEPT_BY_FILE.get(memoryFile.toAbsolutePath().normalize());
        if (p == null) return false;
        synchronized (p) {
            return p.machine != null && p.machine.loaded != null;
        }
    }

    /** Releases the machine unless a restore took it. */
    @Override
    public synchronized void close() {
        if (machine != null) machine.close();
        machine = null;
    }
}
