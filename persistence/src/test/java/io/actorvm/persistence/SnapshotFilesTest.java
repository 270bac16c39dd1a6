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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Snapshots as a Firecracker-style pair of files (state, raw memory) and back into a store. */
class SnapshotFilesTest {
    @TempDir
    Path dir;

    /** Two RAM regions with a gap between them, as below and above a PCI hole. */
    static final MemoryLayout LAYOUT = MemoryLayout.newBuilder().setPageSize(4096)
            .addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(0).setSize(16 * 4096))
            .addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(0x100000).setSize(8 * 4096)).build();
    static final long SECOND_REGION_PAGE = 0x100000 / 4096;

    static byte[] page(int fill) {
        byte[] p = new byte[4096];
        Arrays.fill(p, (byte) fill);
        p[7] = (byte) (fill * 3); // not a uniform page
        return p;
    }

    /** A full snapshot s1 (pages 1, 3 and the second region's first) and an incremental s2 over it (page 3 changed, page 5 new). */
    static Map<Long, byte[]> twoSnapshots(PageStore pages, SnapshotManifests manifests) {
        String vcpu = pages.putBlob(new byte[] {1, 2, 3});
        String vm = pages.putBlob(new byte[] {4, 5});
        Map<Long, byte[]> full = Map.of(1L, page(1), 3L, page(3), SECOND_REGION_PAGE, page(9));
        Map<Long, byte[]> inc = Map.of(3L, page(33), 5L, page(5));
        manifests.write(manifest("s1", SnapshotKind.FULL, "", pages, full, vcpu, vm));
        manifests.write(manifest("s2", SnapshotKind.INCREMENTAL, "s1", pages, inc, vcpu, vm));
        Map<Long, byte[]> effective = new HashMap<>(full);
        effective.putAll(inc);
        return effective;
    }

    static SnapshotManifest manifest(String id, SnapshotKind kind, String parent, PageStore pages, Map<Long, byte[]> content,
                                     String vcpu, String vm) {
        SnapshotManifest.Builder b = SnapshotManifest.newBuilder().setSnapshotId(id).setParentId(parent).setKind(kind)
                .setVmName("fc").setConfig(VmEvent.Defined.newBuilder().setName("fc").setKernelPath("/k").setMemoryBytes(24 * 4096).setCpus(1))
                .setMemory(LAYOUT)
                .addVcpus(BlobRef.newBuilder().setName("vcpu-0").setSha256(vcpu).setSize(3))
                .setVmState(BlobRef.newBuilder().setName("vm").setSha256(vm).setSize(2));
        content.forEach((gpn, bytes) -> b.addPages(PageRef.newBuilder().setGuestPageNumber(gpn)
                .setSha256(ByteString.copyFrom(Sha256.fromHex(pages.put(bytes))))));
        return b.build();
    }

    /** The memory a store's snapshot restores to, page by page (absent pages are zero). */
    static Map<Long, byte[]> effectivePages(PageStore pages, SnapshotManifests manifests, String id) {
        Map<Long, byte[]> out = new HashMap<>();
        SnapshotManifests.forEachEffectivePage(manifests.chain(id), (gpn, sha) -> {
            byte[] content = pages.get(Sha256.toHex(sha));
            if (!Arrays.equals(content, new byte[4096])) out.put(gpn, content);
        });
        return out;
    }

    static void assertSamePages(Map<Long, byte[]> expected, Map<Long, byte[]> actual) {
        assertEquals(new java.util.TreeSet<>(expected.keySet()), new java.util.TreeSet<>(actual.keySet()));
        expected.forEach((gpn, bytes) -> assertArrayEquals(bytes, actual.get(gpn), "page " + gpn));
    }

    @Test
    void fullExportImportsAsTheSameMemoryAndState() throws Exception {
        PageStore pages = PageStore.open(dir.resolve("a/store"));
        SnapshotManifests manifests = SnapshotManifests.open(dir.resolve("a"));
        Map<Long, byte[]> effective = twoSnapshots(pages, manifests);
        Path state = dir.resolve("snapshot_file"), mem = dir.resolve("mem_file");

        SnapshotFiles.Exported exported = SnapshotFiles.export(pages, manifests, "s2", state, mem, false);
        assertEquals(24 * 4096, Files.size(mem));
        assertEquals(24 * 4096, exported.memoryBytes());
        assertEquals(4, exported.pagesWritten());
        // The second region follows the first in the file.
        byte[] raw = Files.readAllBytes(mem);
        assertArrayEquals(page(9), Arrays.copyOfRange(raw, 16 * 4096, 17 * 4096));
        assertArrayEquals(page(33), Arrays.copyOfRange(raw, 3 * 4096, 4 * 4096));

        PageStore pagesB = PageStore.open(dir.resolve("b/store"));
        SnapshotManifests manifestsB = SnapshotManifests.open(dir.resolve("b"));
        SnapshotManifest imported = SnapshotFiles.importFiles(pagesB, manifestsB, state, mem, "loaded");
        assertEquals(SnapshotKind.FULL, imported.getKind());
        assertEquals("", imported.getParentId());
        assertEquals(LAYOUT, imported.getMemory());
        assertEquals(24, imported.getPagesCount()); // every page, the zero ones by the zero page's hash
        assertSamePages(effective, effectivePages(pagesB, manifestsB, "loaded"));
        assertArrayEquals(new byte[] {1, 2, 3}, pagesB.getBlob(imported.getVcpus(0).getSha256()));
        assertArrayEquals(new byte[] {4, 5}, pagesB.getBlob(imported.getVmState().getSha256()));
    }

    @Test
    void diffExportHoldsOnlyTheNewestLevelsPages() throws Exception {
        PageStore pages = PageStore.open(dir.resolve("a/store"));
        SnapshotManifests manifests = SnapshotManifests.open(dir.resolve("a"));
        twoSnapshots(pages, manifests);
        Path state = dir.resolve("diff_state"), mem = dir.resolve("diff_mem");
        SnapshotFiles.Exported exported = SnapshotFiles.export(pages, manifests, "s2", state, mem, true);
        assertEquals(2, exported.pagesWritten());
        assertTrue(SnapshotFiles.readState(state).getDiff());
        PageStore pagesB = PageStore.open(dir.resolve("b/store"));
        SnapshotManifests manifestsB = SnapshotManifests.open(dir.resolve("b"));
        SnapshotFiles.importFiles(pagesB, manifestsB, state, mem, "d");
        assertSamePages(Map.of(3L, page(33), 5L, page(5)), effectivePages(pagesB, manifestsB, "d"));
    }

    @Test
    void aMappedImportNamesTheMemoryFileAndExportsLayTheLevelsAboveOverIt() throws Exception {
        PageStore pages = PageStore.open(dir.resolve("a/store"));
        SnapshotManifests manifests = SnapshotManifests.open(dir.resolve("a"));
        Map<Long, byte[]> effective = twoSnapshots(pages, manifests);
        Path state = dir.resolve("snapshot_file"), mem = dir.resolve("mem_file");
        SnapshotFiles.export(pages, manifests, "s2", state, mem, false);

        PageStore pagesB = PageStore.open(dir.resolve("b/store"));
        SnapshotManifests manifestsB = SnapshotManifests.open(dir.resolve("b"));
        SnapshotManifest mapped = SnapshotFiles.importFiles(pagesB, manifestsB, state, mem, "mapped", true);
        assertEquals(mem.toAbsolutePath().toString(), mapped.getMemoryFile());
        assertEquals(0, mapped.getPagesCount(), "no page was copied");
        assertArrayEquals(new byte[] {1, 2, 3}, pagesB.getBlob(mapped.getVcpus(0).getSha256()));

        // A VM restored from it runs on and is snapshotted incrementally: page 5 changes, page 7 is new.
        Map<Long, byte[]> inc = Map.of(5L, page(55), 7L, page(7));
        manifestsB.write(manifest("s3", SnapshotKind.INCREMENTAL, "mapped", pagesB, inc, mapped.getVcpus(0).getSha256(),
                mapped.getVmState().getSha256()));
        Path state2 = dir.resolve("snapshot_file_2"), mem2 = dir.resolve("mem_file_2");
        SnapshotFiles.export(pagesB, manifestsB, "s3", state2, mem2, false);
        effective.putAll(inc);
        PageStore pagesC = PageStore.open(dir.resolve("c/store"));
        SnapshotManifests manifestsC = SnapshotManifests.open(dir.resolve("c"));
        SnapshotFiles.importFiles(pagesC, manifestsC, state2, mem2, "c");
        assertSamePages(effective, effectivePages(pagesC, manifestsC, "c"));

        assertThrows(IllegalArgumentException.class, () -> manifestsB.write(mapped.toBuilder().setSnapshotId("bad")
                .setMemoryFile("relative/mem").build()), "a memory file is named by its absolute path");
    }

    @Test
    void damagedOrMismatchedFilesAreOneLineErrorsAndLeaveNoSnapshot() throws Exception {
        PageStore pages = PageStore.open(dir.resolve("a/store"));
        SnapshotManifests manifests = SnapshotManifests.open(dir.resolve("a"));
        twoSnapshots(pages, manifests);
        Path state = dir.resolve("snapshot_file"), mem = dir.resolve("mem_file");
        SnapshotFiles.export(pages, manifests, "s2", state, mem, false);
        PageStore pagesB = PageStore.open(dir.resolve("b/store"));
        SnapshotManifests manifestsB = SnapshotManifests.open(dir.resolve("b"));

        Path shortMem = dir.resolve("short_mem");
        Files.write(shortMem, Arrays.copyOf(Files.readAllBytes(mem), 4096));
        var e1 = assertThrows(SnapshotCorruptException.class, () -> SnapshotFiles.importFiles(pagesB, manifestsB, state, shortMem, "x"));
        assertTrue(e1.getMessage().contains("holds 4096 bytes"), e1.getMessage());

        Path junk = dir.resolve("junk");
        Files.writeString(junk, "{\"not\": \"a snapshot\"}");
        var e2 = assertThrows(SnapshotCorruptException.class, () -> SnapshotFiles.importFiles(pagesB, manifestsB, junk, mem, "x"));
        assertTrue(e2.getMessage().contains("is not an actorvm snapshot file"), e2.getMessage());

        byte[] bytes = Files.readAllBytes(state);
        int at = indexOf(bytes, new byte[] {0x12, 3, 1, 2, 3}); // the vCPU blob's content, field 2 of 3 bytes
        bytes[at + 3] ^= 0x40;
        Path tampered = dir.resolve("tampered");
        Files.write(tampered, bytes);
        var e3 = assertThrows(SnapshotCorruptException.class, () -> SnapshotFiles.importFiles(pagesB, manifestsB, tampered, mem, "x"));
        assertTrue(e3.getMessage().contains("does not match its hash"), e3.getMessage());

        Path truncated = dir.resolve("truncated");
        Files.write(truncated, Arrays.copyOf(Files.readAllBytes(state), Files.readAllBytes(state).length / 2));
        assertThrows(SnapshotCorruptException.class, () -> SnapshotFiles.importFiles(pagesB, manifestsB, truncated, mem, "x"));

        assertThrows(SnapshotNotFoundException.class, () -> SnapshotFiles.importFiles(pagesB, manifestsB, dir.resolve("none"), mem, "x"));
        assertTrue(manifestsB.list().isEmpty(), "no snapshot was written: " + manifestsB.list());
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) return i;
        }
        throw new AssertionError("not found");
    }
}
