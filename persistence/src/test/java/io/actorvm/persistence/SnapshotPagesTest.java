package io.actorvm.persistence;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SnapshotPagesTest {
    @TempDir
    Path root;

    static final long RAM = 2L << 20; // 512 pages

    static GuestMemory memory(Arena arena) {
        AddressMap map = new AddressMap(RAM);
        return GuestMemory.of(map, List.of(new GuestMemory.Region(GuestAddress.of(0), arena.allocate(RAM, 4096))));
    }

    static MemorySegment ram(GuestMemory m) {
        return m.regions().getFirst().host();
    }

    @Test
    void fullThenIncrementalRestoresTheNewestContent() {
        PageStore store = PageStore.open(root);
        SnapshotManifests manifests = SnapshotManifests.open(root);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory vm = memory(arena);
            for (int page = 0; page < 100; page++) vm.writeLong(GuestAddress.of(page * 4096L + 8), page + 1); // pages 100.. stay zero

            List<PageRef> fullPages;
            try (PageBatch batch = store.batch()) {
                fullPages = SnapshotPages.capture(vm, batch, gpn -> true);
                assertEquals(512, fullPages.size());
                assertEquals(101, batch.written()); // 100 distinct pages and the zero page
                assertEquals(411, batch.deduplicated());
            }
            manifests.write(SnapshotManifest.newBuilder().setSnapshotId("full").setKind(SnapshotKind.FULL)
                    .setMemory(SnapshotPages.layoutOf(vm)).addAllPages(fullPages).build());

            // The guest dirties two pages; the incremental snapshot stores just those.
            vm.writeLong(GuestAddress.of(3 * 4096L), 0xdeadbeefL);
            vm.writeLong(GuestAddress.of(300 * 4096L), 42);
            List<PageRef> dirty;
            try (PageBatch batch = store.batch()) {
                dirty = SnapshotPages.capture(vm, batch, gpn -> gpn == 3 || gpn == 300);
            }
            assertEquals(List.of(3L, 300L), dirty.stream().map(PageRef::getGuestPageNumber).toList());
            manifests.write(SnapshotManifest.newBuilder().setSnapshotId("inc").setParentId("full").setKind(SnapshotKind.INCREMENTAL)
                    .setMemory(SnapshotPages.layoutOf(vm)).addAllPages(dirty).build());

            GuestMemory restored = memory(arena);
            long read = SnapshotPages.restore(restored, store, manifests.chain("inc"), true);
            assertEquals(101, read); // 100 written pages + page 300; zero pages skipped
            assertArrayEquals(ram(vm).toArray(ValueLayout.JAVA_BYTE), ram(restored).toArray(ValueLayout.JAVA_BYTE));

            GuestMemory older = memory(arena);
            SnapshotPages.restore(older, store, manifests.chain("full"), false);
            assertEquals(4, older.readLong(GuestAddress.of(3 * 4096L + 8)));
            assertEquals(0, older.readLong(GuestAddress.of(3 * 4096L)));
            assertEquals(0, older.readLong(GuestAddress.of(300 * 4096L)));
        }
    }

    @Test
    void aParallelCaptureListsTheSamePagesInTheSameOrder() {
        PageStore store = PageStore.open(root);
        try (Arena arena = Arena.ofShared()) {
            AddressMap map = new AddressMap(24L << 20);
            GuestMemory vm = GuestMemory.of(map, List.of(new GuestMemory.Region(GuestAddress.of(0), arena.allocate(24L << 20, 4096))));
            for (long page = 0; page < (24L << 20) / 4096; page += 3) vm.writeLong(GuestAddress.of(page * 4096), page);
            List<PageRef> sequential;
            List<PageRef> parallel;
            try (PageBatch batch = store.batch()) {
                sequential = SnapshotPages.capture(vm, batch, gpn -> gpn % 5 != 0);
            }
            try (PageBatch batch = store.batch()) {
                parallel = SnapshotPages.capture(vm, batch, gpn -> gpn % 5 != 0, 4);
                assertEquals(0, batch.written());
            }
            assertEquals(sequential, parallel);
        }
    }

    @Test
    void restoreRefusesAnotherMemoryLayoutAndReportsDamagedPages() throws Exception {
        PageStore store = PageStore.open(root);
        SnapshotManifests manifests = SnapshotManifests.open(root);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory vm = memory(arena);
            vm.writeLong(GuestAddress.of(5 * 4096L), 5);
            try (PageBatch batch = store.batch()) {
                manifests.write(SnapshotManifest.newBuilder().setSnapshotId("s").setKind(SnapshotKind.FULL)
                        .setMemory(SnapshotPages.layoutOf(vm)).addAllPages(SnapshotPages.capture(vm, batch, gpn -> true)).build());
            }
            GuestMemory bigger = GuestMemory.of(new AddressMap(4L << 20),
                    List.of(new GuestMemory.Region(GuestAddress.of(0), arena.allocate(4L << 20, 4096))));
            IncompatibleSnapshotException e = assertThrows(IncompatibleSnapshotException.class,
                    () -> SnapshotPages.restore(bigger, store, manifests.chain("s"), true));
            assertEquals("snapshot s was taken of RAM 2 MiB at 0x0 (pages of 4096 bytes), this VM has RAM 4 MiB at 0x0 (pages of 4096 bytes)",
                    e.getMessage());

            String hash = Sha256.hex(ram(vm).asSlice(5 * 4096L, 4096));
            Files.delete(store.pagePath(hash));
            SnapshotCorruptException c = assertThrows(SnapshotCorruptException.class,
                    () -> SnapshotPages.restore(memory(arena), store, manifests.chain("s"), true));
            assertTrue(c.getMessage().contains(hash), c.getMessage());
        }
    }
}
