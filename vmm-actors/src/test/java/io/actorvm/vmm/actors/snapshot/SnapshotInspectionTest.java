package io.actorvm.vmm.actors.snapshot;

import com.google.protobuf.ByteString;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.persistence.Sha256;
import io.actorvm.persistence.proto.BlobRef;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.persistence.proto.StoredVcpuState;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.mmu.AddressMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading stored snapshots without KVM: registers, RAM, device states, and the differences between two. */
class SnapshotInspectionTest {
    @TempDir
    Path dir;

    static byte[] page(String text) {
        byte[] p = new byte[4096];
        byte[] t = text.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(t, 0, p, 0, t.length);
        return p;
    }

    /** A snapshot of a 4 MiB VM with the given pages, vCPU 0 at {@code rip}, and the i8042's config byte. */
    static SnapshotManifest snapshot(SnapshotStore store, String id, String parent, long rip, int i8042Config, Object... pages) {
        StoredVcpuState.Builder vcpu = MachineStateFuzzTest.validVcpu(new SplittableRandom(7)).toBuilder();
        vcpu.setRegs(16, rip);
        byte[] vcpuBlob = vcpu.build().toByteArray();
        byte[] device = I8042.CODEC.encode(new I8042.State(i8042Config, -1, java.util.List.of(), 0, -1, true, 0));
        SnapshotManifest.Builder m = SnapshotManifest.newBuilder().setSnapshotId(id).setParentId(parent)
                .setKind(parent.isEmpty() ? SnapshotKind.FULL : SnapshotKind.INCREMENTAL).setVmName("ctr")
                .setConfig(VmEvent.Defined.newBuilder().setName("ctr").setKernelPath("/k").setMemoryBytes(4 << 20).setCpus(1))
                .setMemory(io.actorvm.persistence.SnapshotPages.layoutOf(io.actorvm.mmu.GuestMemory.of(new AddressMap(4 << 20),
                        List.of(new io.actorvm.mmu.GuestMemory.Region(io.actorvm.mmu.GuestAddress.of(0),
                                java.lang.foreign.MemorySegment.ofArray(new byte[4 << 20]))))))
                .addVcpus(BlobRef.newBuilder().setName("vcpu-0").setSha256(store.pages().putBlob(vcpuBlob)).setSize(vcpuBlob.length))
                .addDevices(BlobRef.newBuilder().setName(VmSnapshots.DEVICE_PREFIX + "i8042").setSha256(store.pages().putBlob(device))
                        .setSize(device.length));
        for (int i = 0; i < pages.length; i += 2) {
            m.addPages(PageRef.newBuilder().setGuestPageNumber((Integer) pages[i])
                    .setSha256(ByteString.copyFrom(Sha256.fromHex(store.pages().put(page((String) pages[i + 1]))))));
        }
        SnapshotManifest built = m.build();
        store.manifests().write(built);
        return built;
    }

    @Test
    void registersMemoryDevicesAndTheDifferencesBetweenTwoSnapshots() {
        SnapshotStore store = SnapshotStore.open(dir);
        snapshot(store, "a", "", 0x100000, 0x44, 0x10, "counter=1", 0x11, "code", 0x200, "data above 2 MiB");
        snapshot(store, "b", "a", 0x100010, 0x45, 0x10, "counter=2", 0x300, "new page", 0x301, "another");
        try (SnapshotInspection a = SnapshotInspection.open(store, "a"); SnapshotInspection b = SnapshotInspection.open(store, "b")) {
            assertEquals(0x100000, a.vcpu(0).regs().rip());
            assertArrayEquals("counter=1".getBytes(), a.readPhysical(0x10000, 9));
            assertArrayEquals("counter=2".getBytes(), b.readPhysical(0x10000, 9));
            assertArrayEquals("data above 2 MiB".getBytes(), b.readPhysical(0x200000, 16), "the parent's pages show through");
            assertArrayEquals(new byte[16], b.readPhysical(0x3ff000, 16), "a page no level holds is zero");
            assertEquals(0x45, ((I8042.State) b.devices().get("i8042")).config());

            List<String> diff = SnapshotInspection.diff(a, b);
            assertEquals("pages: 3 differ 0x10000 0x300000-0x301fff", diff.getFirst());
            assertTrue(diff.contains("vcpu0.rip: 0x100000 -> 0x100010"), diff.toString());
            assertTrue(diff.contains("device i8042.config: 0x44 (68) -> 0x45 (69)"), diff.toString());
            assertEquals(3, diff.size(), "nothing else differs: " + diff);
            assertEquals(List.of("pages: 0 differ"), SnapshotInspection.diff(b, b));
        }
    }

    @Test
    void registersAreShownOneGroupALine() {
        SnapshotStore store = SnapshotStore.open(dir);
        snapshot(store, "a", "", 0xfff0, 0x44);
        try (SnapshotInspection a = SnapshotInspection.open(store, "a")) {
            List<String> lines = SnapshotInspection.describe(a.vcpu(0).regs(), a.vcpu(0).sregs());
            assertTrue(lines.getFirst().startsWith("rip=000000000000fff0 "), lines.getFirst());
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("cr0=")), lines.toString());
            assertEquals(1, Arrays.stream(lines.toArray(String[]::new)).filter(l -> l.startsWith("cs=")).count());
        }
    }
}
