package io.actorvm.vmm.actors.journal;

import com.google.protobuf.ByteString;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.boot.CpuFeature;

import java.nio.file.Path;

/** Builds journal events, and turns a recorded definition back into a {@link VmConfig}. */
public final class VmEvents {
    private VmEvents() {}

    private static VmEvent.Builder at() {
        return VmEvent.newBuilder().setTimestampMillis(System.currentTimeMillis());
    }

    public static VmEvent.Defined definition(VmConfig c) {
        var d = VmEvent.Defined.newBuilder().setName(c.name()).setKernelPath(c.kernel().toAbsolutePath().toString())
                .setCmdline(c.cmdline()).setMemoryBytes(c.memory()).setCpus(c.cpus()).setRng(c.rng())
                .setInitrdPath(c.initrd() == null ? "" : c.initrd().toAbsolutePath().toString());
        for (DiskConfig disk : c.disks()) {
            d.addDisks(VmEvent.Defined.Disk.newBuilder().setPath(disk.path().toAbsolutePath().toString()).setReadOnly(disk.readOnly()));
        }
        for (NetConfig n : c.nets()) {
            d.addNets(VmEvent.Defined.Net.newBuilder().setKind(n.kind() == NetConfig.Kind.TAP ? "tap" : "switch").setName(n.name())
                    .setMac(n.mac() == null ? ByteString.EMPTY : ByteString.copyFrom(n.mac())));
        }
        c.disabledCpuFeatures().forEach(f -> d.addDisabledCpuFeatures(f.flag()));
        if (c.hugePages() != io.actorvm.mmu.HugePages.NONE) d.setHugePages(c.hugePages().flag());
        return d.build();
    }

    /** The configuration a definition describes, with {@code dataDir} for snapshots. */
    public static VmConfig config(VmEvent.Defined d, Path dataDir) {
        var disks = d.getDisksList().stream().map(x -> new DiskConfig(Path.of(x.getPath()), x.getReadOnly())).toList();
        var nets = d.getNetsList().stream().map(n -> new NetConfig(n.getKind().equals("tap") ? NetConfig.Kind.TAP : NetConfig.Kind.SWITCH,
                n.getName(), n.getMac().isEmpty() ? null : n.getMac().toByteArray())).toList();
        var features = CpuFeature.parseDisabled(String.join(",", d.getDisabledCpuFeaturesList()));
        return new VmConfig(d.getName(), Path.of(d.getKernelPath()), d.getCmdline(), d.getMemoryBytes(), d.getCpus(),
                d.getInitrdPath().isEmpty() ? null : Path.of(d.getInitrdPath()), features, disks, d.getRng(), nets, dataDir,
                d.getHugePages().isEmpty() ? io.actorvm.mmu.HugePages.NONE : io.actorvm.mmu.HugePages.parse(d.getHugePages()));
    }

    public static VmEvent defined(VmConfig c) {
        return at().setDefined(definition(c)).build();
    }

    public static VmEvent started() {
        return at().setStarted(VmEvent.Started.getDefaultInstance()).build();
    }

    public static VmEvent paused() {
        return at().setPaused(VmEvent.Paused.getDefaultInstance()).build();
    }

    public static VmEvent resumed() {
        return at().setResumed(VmEvent.Resumed.getDefaultInstance()).build();
    }

    public static VmEvent restored(String snapshotId) {
        return at().setRestored(VmEvent.Restored.newBuilder().setSnapshotId(snapshotId)).build();
    }

    public static VmEvent stopped(String reason, int status) {
        return at().setStopped(VmEvent.Stopped.newBuilder().setReason(reason).setExitStatus(status)).build();
    }

    public static VmEvent failed(String reason) {
        return at().setFailed(VmEvent.Failed.newBuilder().setReason(reason)).build();
    }

    public static VmEvent snapshotTaken(String id, Path manifest, String parent, boolean full, long pages, long bytes) {
        return at().setSnapshotTaken(VmEvent.SnapshotTaken.newBuilder().setSnapshotId(id).setManifestPath(manifest.toString())
                .setParentId(parent == null ? "" : parent).setKind(full ? SnapshotKind.FULL : SnapshotKind.INCREMENTAL)
                .setPageCount(pages).setBytes(bytes)).build();
    }

    /** In a cluster: the VM's runner was made on {@code node}, from {@code snapshotId} ("" for the definition). */
    public static VmEvent placed(String node, String reason, String snapshotId) {
        return at().setPlaced(VmEvent.Placed.newBuilder().setNode(node).setReason(reason).setSnapshotId(snapshotId)).build();
    }

    /** A live migration's commit: the source hands the VM, paused at {@code pausedAtMillis}, over in snapshot {@code snapshotId}. */
    public static VmEvent migrated(String node, String reason, String snapshotId, long epoch, long pausedAtMillis, String toNode) {
        return at().setPlaced(VmEvent.Placed.newBuilder().setNode(node).setReason(reason).setSnapshotId(snapshotId)
                .setEpoch(epoch).setPausedAtMillis(pausedAtMillis).setToNode(toNode)).build();
    }

    public static VmEvent snapshotFailed(String reason, boolean nextFull) {
        return at().setSnapshotFailed(VmEvent.SnapshotFailed.newBuilder().setReason(reason).setNextFull(nextFull)).build();
    }

    /** One line for {@code history}: the event's kind and its details. */
    public static String describe(VmEvent e) {
        return switch (e.getEventCase()) {
            case DEFINED -> "defined " + e.getDefined().getName() + " kernel=" + e.getDefined().getKernelPath()
                    + " memory=" + (e.getDefined().getMemoryBytes() >> 20) + "M cpus=" + e.getDefined().getCpus();
            case STARTED -> "started";
            case PAUSED -> "paused";
            case RESUMED -> "resumed";
            case DEVICE_ATTACHED -> "device-attached " + e.getDeviceAttached().getKind() + " " + e.getDeviceAttached().getDescription();
            case SNAPSHOT_TAKEN -> "snapshot-taken " + e.getSnapshotTaken().getKind().name().toLowerCase()
                    + " pages=" + e.getSnapshotTaken().getPageCount() + " bytes=" + e.getSnapshotTaken().getBytes()
                    + (e.getSnapshotTaken().getParentId().isEmpty() ? "" : " parent=" + e.getSnapshotTaken().getParentId());
            case RESTORED -> "restored";
            case STOPPED -> "stopped status=" + e.getStopped().getExitStatus() + " reason=" + e.getStopped().getReason();
            case FAILED -> "failed reason=" + e.getFailed().getReason();
            case SNAPSHOT_FAILED -> "snapshot-failed" + (e.getSnapshotFailed().getNextFull() ? " next=full" : "")
                    + " reason=" + e.getSnapshotFailed().getReason();
            case PLACED -> "placed node=" + e.getPlaced().getNode() + " reason=" + e.getPlaced().getReason()
                    + (e.getPlaced().getSnapshotId().isEmpty() ? "" : " from=" + e.getPlaced().getSnapshotId())
                    + (e.getPlaced().getEpoch() == 0 ? "" : " epoch=" + e.getPlaced().getEpoch())
                    + (e.getPlaced().getToNode().isEmpty() ? "" : " to=" + e.getPlaced().getToNode());
            case EVENT_NOT_SET -> "unknown";
        };
    }

    /** The snapshot an event refers to, or "-". */
    public static String snapshotId(VmEvent e) {
        if (e.hasSnapshotTaken()) return e.getSnapshotTaken().getSnapshotId();
        if (e.hasRestored()) return e.getRestored().getSnapshotId();
        if (e.hasPlaced() && !e.getPlaced().getSnapshotId().isEmpty()) return e.getPlaced().getSnapshotId();
        return "-";
    }
}
