package io.actorvm.persistence;

import com.google.protobuf.ByteString;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.proto.MemoryLayout;
import io.actorvm.persistence.proto.PageRef;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Manifests whose checksum is right but whose content is hostile, as a damaged or malicious data
 * directory could hold: fields set to what no writer produces (page numbers past RAM or near
 * 2^63, hashes of the wrong length, unknown kinds, overflowing or empty layouts, ids that are
 * paths, parents that loop) and random byte flips under a recomputed checksum. Reading, walking
 * the chain and restoring into guest memory may only end in a {@link SnapshotException} (a
 * one-line error); nothing else escapes and no write lands outside guest RAM (the memory is an
 * arena segment: a stray write would throw). Seeded; a failure names the seed and the step.
 */
class SnapshotDecoderFuzzTest {
    /** Manifests in {@code ./mvnw verify}; the benchmark harness raises it (-Dactorvm.fuzz.steps). */
    static final int STEPS = Integer.getInteger("actorvm.fuzz.steps", 100_000);
    static final long SEED = Long.getLong("actorvm.fuzz.seed", 0x5eed_f00dL);
    static final long RAM = 2L << 20; // 512 pages

    @TempDir
    Path root;

    @Test
    void hashValidButHostileManifestsAreOneLineErrors() throws IOException {
        PageStore store = PageStore.open(root);
        SnapshotManifests manifests = SnapshotManifests.open(root);
        SplittableRandom random = new SplittableRandom(SEED);
        byte[][] pages = new byte[4][PageStore.PAGE_SIZE];
        ByteString[] hashes = new ByteString[pages.length];
        for (int i = 0; i < pages.length; i++) {
            random.nextBytes(pages[i]);
            hashes[i] = ByteString.copyFrom(Sha256.fromHex(store.put(pages[i])));
        }
        SnapshotManifest valid = valid(hashes);
        manifests.write(valid);
        int refused = 0, restored = 0;
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory memory = GuestMemory.of(new AddressMap(RAM), List.of(new GuestMemory.Region(GuestAddress.of(0), arena.allocate(RAM, 4096))));
            for (int step = 0; step < STEPS; step++) {
                String id = "fuzz-" + step;
                byte[] file = hostile(random, valid.toBuilder().setSnapshotId(id).build(), hashes);
                try {
                    List<SnapshotManifest> chain;
                    if (step % 64 == 0) { // through the file system: read, parents, layouts
                        Files.write(manifests.pathOf(id), file);
                        try {
                            chain = manifests.chain(id);
                        } finally {
                            Files.delete(manifests.pathOf(id));
                        }
                    } else {
                        chain = List.of(SnapshotManifests.decode(id, file));
                    }
                    SnapshotPages.restore(memory, store, chain, false);
                    restored++;
                } catch (SnapshotException e) {
                    assertTrue(!e.getMessage().isBlank() && !e.getMessage().contains("\n"), e.getMessage());
                    refused++;
                } catch (IllegalArgumentException e) {
                    // an id that is not a file name never reaches the file system
                    assertTrue(e.getMessage().startsWith("bad snapshot id"), e.getMessage());
                    refused++;
                } catch (RuntimeException | Error e) {
                    throw new AssertionError("seed 0x%x, step %d: manifest %s threw %s".formatted(SEED, step,
                            HexFormat.of().formatHex(file), e), e);
                }
            }
        }
        System.out.printf("snapshot manifest fuzz: %d hostile manifests, %d refused, %d restored (seed 0x%x)%n",
                STEPS, refused, restored, SEED);
        assertEquals(STEPS, refused + restored);
        assertTrue(refused > STEPS / 10 && restored > STEPS / 100, "refused " + refused + ", restored " + restored);
    }

    static SnapshotManifest valid(ByteString[] hashes) {
        SnapshotManifest.Builder b = SnapshotManifest.newBuilder().setFormatVersion(SnapshotManifests.FORMAT_VERSION)
                .setSnapshotId("base").setKind(SnapshotKind.FULL).setVmName("vm")
                .setMemory(MemoryLayout.newBuilder().setPageSize(PageStore.PAGE_SIZE)
                        .addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(0).setSize(RAM)));
        for (int i = 0; i < hashes.length; i++) {
            b.addPages(PageRef.newBuilder().setGuestPageNumber(i * 7L).setSha256(hashes[i]));
        }
        return b.build();
    }

    /** A manifest file with a right checksum around hostile content. */
    static byte[] hostile(SplittableRandom r, SnapshotManifest valid, ByteString[] hashes) {
        SnapshotManifest.Builder b = valid.toBuilder();
        for (int n = 1 + r.nextInt(3); n > 0; n--) {
            switch (r.nextInt(10)) {
                case 0 -> b.addPages(PageRef.newBuilder().setGuestPageNumber(anyPageNumber(r)).setSha256(hashes[r.nextInt(hashes.length)]));
                case 1 -> b.setPages(r.nextInt(b.getPagesCount()), PageRef.newBuilder().setGuestPageNumber(r.nextInt(512))
                        .setSha256(ByteString.copyFrom(new byte[r.nextInt(40)])));
                case 2 -> b.setKindValue(r.nextInt(-1, 5));
                case 3 -> b.setParentId(new String[] {"base", "../x", "", "missing", "a/b", ".hidden"}[r.nextInt(6)]);
                case 4 -> b.setMemory(MemoryLayout.newBuilder().setPageSize(new int[] {4096, 0, 1, 2 << 20}[r.nextInt(4)])
                        .addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(r.nextLong()).setSize(r.nextLong())));
                case 5 -> b.getMemoryBuilder().addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(RAM).setSize(1L << r.nextInt(64)));
                case 6 -> b.setFormatVersion(r.nextInt(3));
                case 7 -> b.setSnapshotId(r.nextBoolean() ? "other" : "");
                default -> b.addPages(b.getPages(r.nextInt(b.getPagesCount()))); // a page listed twice
            }
        }
        byte[] payload = b.build().toByteArray();
        if (r.nextInt(3) == 0 && payload.length > 0) payload[r.nextInt(payload.length)] ^= (byte) (1 << r.nextInt(8));
        return SnapshotManifests.encode(payload);
    }

    static long anyPageNumber(SplittableRandom r) {
        return switch (r.nextInt(4)) {
            case 0 -> r.nextLong();
            case 1 -> Integer.MAX_VALUE - r.nextInt(4);
            case 2 -> RAM / PageStore.PAGE_SIZE + r.nextInt(4);
            default -> r.nextInt(512);
        };
    }
}
