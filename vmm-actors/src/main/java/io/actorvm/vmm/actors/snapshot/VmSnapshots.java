package io.actorvm.vmm.actors.snapshot;

import io.actorvm.kvm.CpuidEntry;
import io.actorvm.kvm.VcpuFd;
import io.actorvm.kvm.VcpuState;
import io.actorvm.kvm.VmFd;
import io.actorvm.kvm.VmState;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.PageBatch;
import io.actorvm.persistence.SnapshotCorruptException;
import io.actorvm.persistence.SnapshotPages;
import io.actorvm.persistence.proto.BlobRef;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.persistence.proto.StoredVcpuState;
import io.actorvm.persistence.proto.StoredVmState;
import io.actorvm.persistence.proto.VmEvent;

import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;
import java.util.function.LongPredicate;

/**
 * Capturing a paused VM into a snapshot, and reading one back. Capture: every vCPU's state, the
 * VM-wide KVM state (irqchips, PIT, kvmclock), and the RAM pages — all of them for a full
 * snapshot, those KVM's dirty log reports since the parent for an incremental one — into the
 * content-addressed store, then the manifest, written atomically and last.
 */
public final class VmSnapshots {
    static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    /** Blob names of device states: "device:" and the device's name. */
    static final String DEVICE_PREFIX = "device:";

    private VmSnapshots() {}

    /**
     * The device states a snapshot kept, encoded, by device name; each one is decoded here once,
     * so a damaged state fails the restore before anything is built from it.
     */
    public static java.util.Map<String, byte[]> deviceStates(SnapshotStore store, Loaded snapshot) {
        java.util.Map<String, byte[]> out = new java.util.LinkedHashMap<>();
        for (BlobRef b : snapshot.leaf().getDevicesList()) {
            if (b.getName().startsWith(DEVICE_PREFIX)) {
                String name = b.getName().substring(DEVICE_PREFIX.length());
                try {
                    byte[] state = snapshot.blob(store, b.getSha256());
                    io.actorvm.devices.DeviceStates.decode(state);
                    out.put(name, state);
                } catch (io.actorvm.devices.DeviceStateException e) {
                    throw new SnapshotCorruptException("snapshot " + snapshot.leaf().getSnapshotId() + ", device " + name + ": " + e.getMessage());
                }
            }
        }
        return out;
    }

    /** What a snapshot wrote. */
    public record Taken(String id, String parentId, boolean full, long pages, long bytesWritten, Path manifest, long millis) {}

    /** A new snapshot id: sortable by time, unique enough for one data directory. */
    public static String newId() {
        return ID_TIME.format(Instant.now()) + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0x100000));
    }

    /**
     * Takes a snapshot of a VM whose vCPUs are all parked outside KVM_RUN. {@code dirtyPages}
     * gives, per memory region, the pages to store (null: all of them — a full snapshot).
     */
    public static Taken take(SnapshotStore store, VmEvent.Defined config, GuestMemory memory, VmFd vm, List<VcpuFd> vcpus,
                             List<Integer> msrs, List<CpuidEntry> guestCpuid, java.util.Map<String, byte[]> devices,
                             String parentId, IntFunction<LongPredicate> dirtyPages) {
        long t0 = System.nanoTime();
        String id = newId();
        boolean full = parentId == null;
        SnapshotManifest.Builder manifest = SnapshotManifest.newBuilder().setSnapshotId(id).setParentId(full ? "" : parentId)
                .setKind(full ? SnapshotKind.FULL : SnapshotKind.INCREMENTAL).setCreatedMillis(System.currentTimeMillis())
                .setVmName(config.getName()).setConfig(config).setMemory(SnapshotPages.layoutOf(memory));
        long pages;
        long written;
        try (PageBatch batch = store.pages().batch()) {
            List<PageRef> refs = new ArrayList<>();
            int region = 0;
            for (GuestMemory.Region r : memory.regions()) {
                // Reading the dirty log also clears it: a full snapshot starts the next increment afresh.
                LongPredicate dirty = dirtyPages.apply(region);
                LongPredicate inRegion = full ? gpn -> true : dirty;
                long first = r.guestAddress().value() / SnapshotPages.PAGE_SIZE;
                GuestMemory one = GuestMemory.of(memory.addressMap(), List.of(r));
                refs.addAll(SnapshotPages.capture(one, batch, gpn -> inRegion.test(gpn - first)));
                region++;
            }
            manifest.addAllPages(refs);
            pages = refs.size();
            for (StateBlob b : machineStates(vm, vcpus, msrs, guestCpuid, devices)) addState(manifest, b, batch.putBlob(b.bytes()));
            batch.commit();
            written = batch.writtenBytes();
        }
        Path path = store.manifests().write(manifest.build());
        return new Taken(id, parentId, full, pages, written, path, (System.nanoTime() - t0) / 1_000_000);
    }

    /** One piece of a paused machine's state as a snapshot keeps it: named as in the manifest, encoded. */
    public record StateBlob(String name, byte[] bytes) {}

    /**
     * Everything of a machine whose vCPUs are parked but its RAM: each vCPU ("vcpu-N"), the VM-wide
     * KVM state ("vm"), each device ({@code devices}, encoded, by name) and the CPU features the
     * guest could see. What a snapshot stores beside its pages, and what a migration sends last.
     */
    public static List<StateBlob> machineStates(VmFd vm, List<VcpuFd> vcpus, List<Integer> msrs, List<CpuidEntry> guestCpuid,
                                                java.util.Map<String, byte[]> devices) {
        List<StateBlob> out = new ArrayList<>();
        for (int i = 0; i < vcpus.size(); i++) {
            out.add(new StateBlob("vcpu-" + i, MachineStateCodec.encode(i, vcpus.get(i).captureState(msrs)).toByteArray()));
        }
        out.add(new StateBlob(VM_STATE, MachineStateCodec.encode(vm.captureState()).toByteArray()));
        for (var d : devices.entrySet()) out.add(new StateBlob(DEVICE_PREFIX + d.getKey(), d.getValue()));
        out.add(new StateBlob(CpuFeatureCheck.BLOB_NAME, CpuFeatureCheck.encode(guestCpuid)));
        return out;
    }

    private static final String VM_STATE = "vm";

    /** Adds {@code blob}, stored under {@code sha256}, to the manifest where its name says it belongs. */
    public static void addState(SnapshotManifest.Builder manifest, StateBlob blob, String sha256) {
        BlobRef ref = blobRef(blob.name(), sha256, blob.bytes().length);
        if (blob.name().startsWith("vcpu-")) manifest.addVcpus(ref);
        else if (blob.name().equals(VM_STATE)) manifest.setVmState(ref);
        else manifest.addDevices(ref);
    }

    private static BlobRef blobRef(String name, String hash, long size) {
        return BlobRef.newBuilder().setName(name).setSha256(hash).setSize(size).build();
    }

    /**
     * A snapshot chain read and verified up to its states (pages are verified as they are copied
     * in), oldest manifest first, with the state blobs already held in memory by hash (each checked
     * against it; the others come from the store).
     */
    public record Loaded(List<SnapshotManifest> chain, SnapshotManifest leaf, java.util.Map<String, byte[]> heldBlobs) {
        public VmEvent.Defined config() {
            return leaf.getConfig();
        }

        /**
         * A full snapshot with its memory file, received whole with its state blobs (each checked
         * against its hash): loadable while its files are still being made durable.
         */
        public static Loaded received(SnapshotManifest full, java.util.Map<String, byte[]> blobs) {
            return new Loaded(List.of(full), full, java.util.Map.copyOf(blobs));
        }

        byte[] blob(SnapshotStore store, String sha256) {
            byte[] held = heldBlobs.get(sha256);
            return held != null ? held : store.pages().getBlob(sha256);
        }
    }

    public static Loaded load(SnapshotStore store, String id) {
        List<SnapshotManifest> chain = store.manifests().chain(id);
        return new Loaded(chain, chain.getLast(), java.util.Map.of());
    }

    /**
     * Refuses to restore on a host that lacks CPU features the snapshot's guest could see (it may
     * be using them): a one-line {@link io.actorvm.persistence.IncompatibleSnapshotException}.
     */
    public static void checkCpuFeatures(SnapshotStore store, Loaded snapshot, List<CpuidEntry> hostGuestCpuid) {
        for (BlobRef b : snapshot.leaf().getDevicesList()) {
            if (b.getName().equals(CpuFeatureCheck.BLOB_NAME)) {
                CpuFeatureCheck.requireSubset(snapshot.leaf().getSnapshotId(), snapshot.blob(store, b.getSha256()), hostGuestCpuid);
            }
        }
    }

    /**
     * Copies the chain's pages into guest memory: fresh (zeroed) memory, or the mapped memory file
     * of the chain's oldest level (then only the levels above it have pages, and zero pages count).
     */
    public static long restoreMemory(SnapshotStore store, Loaded snapshot, GuestMemory memory) {
        boolean mapped = !snapshot.chain().getFirst().getMemoryFile().isEmpty();
        return SnapshotPages.restore(memory, store.pages(), snapshot.chain(), !mapped);
    }

    /** The VM-wide KVM state of the snapshot. */
    public static VmState vmState(SnapshotStore store, Loaded snapshot) {
        try {
            return MachineStateCodec.decode(StoredVmState.parseFrom(
                    snapshot.blob(store, snapshot.leaf().getVmState().getSha256())));
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new SnapshotCorruptException("snapshot " + snapshot.leaf().getSnapshotId() + ": VM state does not parse");
        }
    }

    /** vCPU {@code index}'s state, with the CPUID this host gives that vCPU. */
    public static VcpuState vcpuState(SnapshotStore store, Loaded snapshot, int index, List<CpuidEntry> cpuid) {
        if (index >= snapshot.leaf().getVcpusCount()) {
            throw new SnapshotCorruptException("snapshot " + snapshot.leaf().getSnapshotId() + " has no state for vCPU " + index);
        }
        try {
            return MachineStateCodec.decode(StoredVcpuState.parseFrom(
                    snapshot.blob(store, snapshot.leaf().getVcpus(index).getSha256())), cpuid, 0);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new SnapshotCorruptException("snapshot " + snapshot.leaf().getSnapshotId() + ": vCPU " + index + " state does not parse");
        }
    }
}
