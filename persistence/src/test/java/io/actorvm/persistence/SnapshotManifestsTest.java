package io.actorvm.persistence;

import com.google.protobuf.ByteString;
import io.actorvm.persistence.proto.BlobRef;
import io.actorvm.persistence.proto.MemoryLayout;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.persistence.proto.VmEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

class SnapshotManifestsTest {
    @TempDir
    Path root;

    static final MemoryLayout LAYOUT = MemoryLayout.newBuilder().setPageSize(4096)
            .addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(0).setSize(16 << 20)).build();

    static ByteString hash(int n) {
        return ByteString.copyFrom(Sha256.digest(new byte[] {(byte) n}));
    }

    static SnapshotManifest.Builder manifest(String id, SnapshotKind kind, String parent, int... pages) {
        SnapshotManifest.Builder b = SnapshotManifest.newBuilder()
                .setSnapshotId(id).setParentId(parent).setKind(kind)
                .setCreatedMillis(1_700_000_000_000L).setVmName("web-1")
                .setConfig(VmEvent.Defined.newBuilder().setName("web-1").setKernelPath("/k").setMemoryBytes(16 << 20).setCpus(1))
                .setMemory(LAYOUT)
                .addVcpus(BlobRef.newBuilder().setName("vcpu-0").setSha256(Sha256.hex(new byte[1])).setSize(1))
                .setVmState(BlobRef.newBuilder().setName("vm").setSha256(Sha256.hex(new byte[2])).setSize(2));
        for (int i = 0; i < pages.length; i += 2) {
            b.addPages(PageRef.newBuilder().setGuestPageNumber(pages[i]).setSha256(hash(pages[i + 1])));
        }
        return b;
    }

    @Test
    void writeReadListAndChainWithAnIncrementalChild() {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        SnapshotManifest full = manifest("s1", SnapshotKind.FULL, "", 0, 10, 1, 11, 2, 12).build();
        SnapshotManifest inc = manifest("s2", SnapshotKind.INCREMENTAL, "s1", 1, 21).build();
        SnapshotManifest inc2 = manifest("s3", SnapshotKind.INCREMENTAL, "s2", 2, 32, 5, 35).build();
        Path p = manifests.write(full);
        assertEquals(root.toAbsolutePath().resolve("snapshots/s1.manifest"), p);
        manifests.write(inc);
        manifests.write(inc2);

        SnapshotManifest read = manifests.read("s1");
        assertEquals(SnapshotManifests.FORMAT_VERSION, read.getFormatVersion()); // filled in on write
        assertEquals(full.toBuilder().setFormatVersion(1).build(), read);
        assertEquals(List.of("s1", "s2", "s3"), manifests.list());

        List<SnapshotManifest> chain = manifests.chain("s3");
        assertEquals(List.of("s1", "s2", "s3"), chain.stream().map(SnapshotManifest::getSnapshotId).toList());
        assertEquals(List.of("s1"), manifests.chain("s1").stream().map(SnapshotManifest::getSnapshotId).toList());

        Map<Long, ByteString> effective = new TreeMap<>();
        long n = SnapshotManifests.forEachEffectivePage(chain, (gpn, sha) -> assertNull(effective.put(gpn, ByteString.copyFrom(sha))));
        assertEquals(4, n);
        assertEquals(Map.of(0L, hash(10), 1L, hash(21), 2L, hash(32), 5L, hash(35)), effective);
    }

    @Test
    void refusesBadManifestsOnWrite() {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        manifests.write(manifest("a", SnapshotKind.FULL, "").build());
        assertThrows(IllegalStateException.class, () -> manifests.write(manifest("a", SnapshotKind.FULL, "").build()));
        assertThrows(IllegalArgumentException.class, () -> manifests.write(manifest("b", SnapshotKind.INCREMENTAL, "").build()));
        assertThrows(IllegalArgumentException.class, () -> manifests.write(manifest("c", SnapshotKind.SNAPSHOT_KIND_UNSPECIFIED, "").build()));
        assertThrows(IllegalArgumentException.class, () -> manifests.write(manifest("../x", SnapshotKind.FULL, "").build()));
        assertThrows(IllegalArgumentException.class, () -> manifests.write(manifest(".hidden", SnapshotKind.FULL, "").build()));
        assertThrows(IllegalArgumentException.class, () -> manifests.write(manifest("d", SnapshotKind.FULL, "").setFormatVersion(2).build()));
        assertEquals(List.of("a"), manifests.list());
    }

    @Test
    void aTornManifestIsAOneLineError() throws IOException {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        Path file = manifests.write(manifest("t", SnapshotKind.FULL, "", 0, 1, 1, 2).build());
        byte[] bytes = Files.readAllBytes(file);

        Files.write(file, Arrays.copyOf(bytes, bytes.length - 7));
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> manifests.read("t"));
        assertEquals("snapshot t: manifest is torn (" + (bytes.length - 7 - SnapshotManifests.HEADER_BYTES) + " of "
                + (bytes.length - SnapshotManifests.HEADER_BYTES) + " payload bytes)", e.getMessage());

        Files.write(file, Arrays.copyOf(bytes, 20));
        e = assertThrows(SnapshotCorruptException.class, () -> manifests.read("t"));
        assertEquals("snapshot t: manifest is torn (20 bytes, shorter than its 48-byte header)", e.getMessage());

        Files.write(file, new byte[0]);
        assertThrows(SnapshotCorruptException.class, () -> manifests.read("t"));
    }

    @Test
    void aDamagedManifestIsDetected() throws IOException {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        Path file = manifests.write(manifest("d", SnapshotKind.FULL, "", 0, 1).build());
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 3] ^= 0x40;
        Files.write(file, bytes);
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> manifests.read("d"));
        assertTrue(e.getMessage().startsWith("snapshot d: manifest checksum mismatch"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));

        Files.write(file, "hello, this is not a manifest at all; it is long enough".getBytes());
        e = assertThrows(SnapshotCorruptException.class, () -> manifests.read("d"));
        assertEquals("snapshot d: not an actorvm snapshot manifest (bad magic)", e.getMessage());
    }

    @Test
    void aHugeManifestIsRefusedBeforeItIsRead() throws IOException {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        try (var ch = java.nio.channels.FileChannel.open(manifests.pathOf("big"), java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(SnapshotManifests.MAGIC), 0);
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {1}), 3L << 30); // sparse, 3 GiB
        }
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> manifests.read("big"));
        assertEquals("snapshot big: manifest is " + ((3L << 30) + 1) + " bytes, more than the " + SnapshotManifests.MAX_MANIFEST_BYTES
                + " this build reads (" + manifests.pathOf("big") + ")", e.getMessage());
    }

    @Test
    void aPageNumberBeyondTheMemoryLayoutIsCorruptBeforeAnythingIsSizedByIt() {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        manifests.write(manifest("far", SnapshotKind.FULL, "", 0, 1, Integer.MAX_VALUE - 1, 2).build());
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class,
                () -> SnapshotManifests.forEachEffectivePage(manifests.chain("far"), (gpn, sha) -> { }));
        assertEquals("snapshot far: guest page number " + (Integer.MAX_VALUE - 1) + " lies beyond its memory layout", e.getMessage());
        // 16 MiB of RAM: pages 0..4095.
        manifests.write(manifest("edge", SnapshotKind.FULL, "", 4095, 1).build());
        assertEquals(1, SnapshotManifests.forEachEffectivePage(manifests.chain("edge"), (gpn, sha) -> { }));
        manifests.write(manifest("past", SnapshotKind.FULL, "", 4096, 1).build());
        assertThrows(SnapshotCorruptException.class, () -> SnapshotManifests.forEachEffectivePage(manifests.chain("past"), (gpn, sha) -> { }));
    }

    @Test
    void anotherFormatVersionIsIncompatible() throws IOException {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        SnapshotManifest future = manifest("v2", SnapshotKind.FULL, "").setFormatVersion(2).build();
        Files.write(manifests.pathOf("v2"), SnapshotManifests.encode(future));
        IncompatibleSnapshotException e = assertThrows(IncompatibleSnapshotException.class, () -> manifests.read("v2"));
        assertEquals("snapshot v2 has manifest format version 2; this build reads version 1", e.getMessage());
    }

    @Test
    void aManifestUnderAnotherNameIsCorrupt() throws IOException {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        Path a = manifests.write(manifest("a", SnapshotKind.FULL, "").build());
        Files.copy(a, manifests.pathOf("b"));
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> manifests.read("b"));
        assertEquals("snapshot b: the manifest file holds snapshot 'a'", e.getMessage());
    }

    @Test
    void chainDetectsMissingParentsAndCycles() {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        manifests.write(manifest("orphan", SnapshotKind.INCREMENTAL, "gone").build());
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> manifests.chain("orphan"));
        assertEquals("snapshot orphan: parent gone of orphan is missing", e.getMessage());

        manifests.write(manifest("x", SnapshotKind.INCREMENTAL, "y").build());
        manifests.write(manifest("y", SnapshotKind.INCREMENTAL, "z").build());
        manifests.write(manifest("z", SnapshotKind.INCREMENTAL, "x").build());
        e = assertThrows(SnapshotCorruptException.class, () -> manifests.chain("x"));
        assertEquals("snapshot x: its parent chain has a cycle at x", e.getMessage());

        assertThrows(SnapshotNotFoundException.class, () -> manifests.chain("nope"));
        assertThrows(SnapshotNotFoundException.class, () -> manifests.read("nope"));
    }

    @Test
    void chainRefusesALevelWithAnotherMemoryLayout() {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        manifests.write(manifest("big", SnapshotKind.FULL, "").setMemory(LAYOUT.toBuilder().setRegions(0,
                MemoryLayout.Region.newBuilder().setGuestAddress(0).setSize(32 << 20))).build());
        manifests.write(manifest("small", SnapshotKind.INCREMENTAL, "big").build());
        SnapshotCorruptException e = assertThrows(SnapshotCorruptException.class, () -> manifests.chain("small"));
        assertEquals("snapshot small: the memory layout of big differs from that of its child small", e.getMessage());
    }

    @Test
    void leftoverTemporaryManifestsAreIgnored() throws IOException {
        SnapshotManifests manifests = SnapshotManifests.open(root);
        manifests.write(manifest("ok", SnapshotKind.FULL, "").build());
        Files.write(manifests.directory().resolve(AtomicFiles.TEMP_PREFIX + "half.manifest-1234"), new byte[10]);
        Files.write(manifests.directory().resolve("notes.txt"), new byte[10]);
        assertEquals(List.of("ok"), manifests.list());
    }
}
