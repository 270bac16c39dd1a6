package io.actorvm.vmm.actors.migration;

import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.SnapshotPages;
import io.actorvm.persistence.proto.MigrationHello;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pre-copy over a real TCP connection into a real store, without KVM: the "guest" is a thread
 * writing random pages of real memory while the rounds go, marking them dirty as KVM would; the
 * memory file the target keeps must equal the memory as it was when paused, page for page.
 */
class MigrationLinkTest {
    private static final int PAGE = 4096;
    private static final long RAM = 8L << 20;
    private static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create("migration-link");
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** Memory a writer thread dirties until the pause; the dirty bitmap is what KVM's log would report. */
    private static final class WritingGuest implements PreCopy.Guest, AutoCloseable {
        final GuestMemory memory = GuestMemory.allocate(new AddressMap(RAM));
        final AtomicLongArray dirty = new AtomicLongArray((int) (RAM / PAGE / 64));
        final AtomicBoolean paused = new AtomicBoolean();
        final Thread writer;
        volatile boolean stopWriting;
        long writes;

        final int alwaysDirty;

        WritingGuest(boolean write) {
            this(write, 0, (int) (RAM / PAGE));
        }

        /**
         * Fills every third page below page {@code filledPages}; pages 0..alwaysDirty-1 are
         * reported dirty in every round until the pause (a busy loop's stack, a polled ring).
         */
        WritingGuest(boolean write, int alwaysDirty, int filledPages) {
            this.alwaysDirty = alwaysDirty;
            Random r = new Random(7);
            MemorySegment m = memory.regions().getFirst().host();
            for (long p = 0; p < filledPages; p += 3) m.set(ValueLayout.JAVA_LONG, p * PAGE + 8 * r.nextInt(512), r.nextLong());
            writer = Thread.ofPlatform().start(() -> {
                Random w = new Random(11);
                while (write && !stopWriting && !paused.get()) {
                    long page = w.nextInt((int) (RAM / PAGE));
                    m.set(ValueLayout.JAVA_LONG, page * PAGE + 8 * w.nextInt(512), w.nextLong() | 1);
                    // Marked after the write, as KVM marks a page on the write fault before it.
                    dirty.getAndAccumulate((int) (page >>> 6), 1L << (page & 63), (a, b) -> a | b);
                    writes++;
                    if (writes % 64 == 0) Thread.onSpinWait();
                }
            });
        }

        @Override
        public List<GuestMemory.Region> regions() {
            return memory.regions();
        }

        @Override
        public long[] takeDirty(int index) {
            long[] out = new long[dirty.length()];
            for (int i = 0; i < out.length; i++) out[i] = dirty.getAndSet(i, 0);
            if (!paused.get()) for (int p = 0; p < alwaysDirty; p++) out[p >>> 6] |= 1L << (p & 63);
            return out;
        }

        @Override
        public Map<String, byte[]> pauseAndCapture() throws Exception {
            paused.set(true);
            writer.join();
            return Map.of("serial", new byte[] {1, 2, 3});
        }

        @Override
        public List<VmSnapshots.StateBlob> machineStates(Map<String, byte[]> devices) {
            List<VmSnapshots.StateBlob> out = new ArrayList<>();
            out.add(new VmSnapshots.StateBlob("vcpu-0", new byte[] {9, 9}));
            out.add(new VmSnapshots.StateBlob("vm", new byte[] {8}));
            devices.forEach((name, state) -> out.add(new VmSnapshots.StateBlob("device:" + name, state)));
            return out;
        }

        @Override
        public void close() throws Exception {
            stopWriting = true;
            writer.join();
            memory.close();
        }
    }

    private static PreCopy preCopy(WritingGuest guest, List<PreCopy.Progress> progress) {
        return preCopy(guest, progress, new PreCopy.Settings(Duration.ofMillis(5), 8));
    }

    private static PreCopy preCopy(WritingGuest guest, List<PreCopy.Progress> progress, PreCopy.Settings settings) {
        var layout = SnapshotPages.layoutOf(guest.memory);
        MigrationHello hello = MigrationHello.newBuilder().setVmName("mover").setSourceNode("127.0.0.1:1").setEpoch(1).setMemory(layout).build();
        SnapshotManifest skeleton = SnapshotManifest.newBuilder().setSnapshotId(VmSnapshots.newId()).setKind(SnapshotKind.FULL)
                .setVmName("mover").setConfig(VmEvent.Defined.newBuilder().setName("mover").setMemoryBytes(RAM)).setMemory(layout).build();
        return new PreCopy(guest, hello, skeleton, settings, p -> {
            synchronized (progress) {
                progress.add(p);
            }
        });
    }

    @Test
    void theTargetsMemoryFileIsTheGuestsMemoryAsPausedAfterRoundsWhileItWrote(@TempDir Path dir) throws Exception {
        SnapshotStore store = SnapshotStore.open(dir);
        InetSocketAddress at = MigrationLink.listen(kit.system(), "127.0.0.1", store).toCompletableFuture().get(10, TimeUnit.SECONDS);
        List<PreCopy.Progress> progress = new ArrayList<>();
        try (WritingGuest guest = new WritingGuest(true)) {
            String id = MigrationLink.send(kit.system(), at, preCopy(guest, progress)).snapshotId().toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertTrue(guest.writes > 0, "the guest wrote during the migration");
            assertTrue(progress.size() >= 2 && progress.getLast().paused(), "rounds, then the stop-and-copy: " + progress);
            SnapshotManifest manifest = store.manifests().chain(id).getLast();
            Path file = Path.of(manifest.getMemoryFile());
            assertEquals(RAM, Files.size(file));
            byte[] expected = guest.memory.regions().getFirst().host().toArray(ValueLayout.JAVA_BYTE);
            byte[] got = Files.readAllBytes(file);
            for (int p = 0; p < RAM / PAGE; p++) {
                if (java.util.Arrays.mismatch(expected, p * PAGE, (p + 1) * PAGE, got, p * PAGE, (p + 1) * PAGE) != -1) {
                    throw new AssertionError("page " + p + " differs on the target after " + progress.size() + " rounds");
                }
            }
            assertEquals(1, manifest.getVcpusCount());
            assertArrayEquals(new byte[] {1, 2, 3}, store.pages().getBlob(manifest.getDevicesList().stream()
                    .filter(b -> b.getName().equals("device:serial")).findFirst().orElseThrow().getSha256()));
            try (var left = Files.list(dir.resolve("migrations"))) {
                assertEquals(List.of(id + ".mem"), left.map(p -> p.getFileName().toString()).toList());
            }
        }
    }

    /**
     * A guest that keeps writing a few pages (a busy loop's stack, a polled ring) never sends a
     * round big enough to measure the link: it converges anyway once a round no larger than the
     * one before took less than the downtime target, instead of running to the round limit.
     */
    @Test
    void aGuestWritingAFewPagesConvergesWithoutRunningToTheRoundLimit(@TempDir Path dir) throws Exception {
        SnapshotStore store = SnapshotStore.open(dir);
        InetSocketAddress at = MigrationLink.listen(kit.system(), "127.0.0.1", store).toCompletableFuture().get(10, TimeUnit.SECONDS);
        List<PreCopy.Progress> progress = new ArrayList<>();
        try (WritingGuest guest = new WritingGuest(false, 4, 64)) {
            MigrationLink.send(kit.system(), at, preCopy(guest, progress, new PreCopy.Settings(Duration.ofMillis(50), 30)))
                    .snapshotId().toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertTrue(progress.getLast().paused() && progress.size() <= 4, "a few rounds, then the stop-and-copy: " + progress);
        }
    }

    @Test
    void aConnectionCutBeforeTheStateLeavesNothingOnTheTargetAndFailsTheSource(@TempDir Path dir) throws Exception {
        SnapshotStore store = SnapshotStore.open(dir);
        InetSocketAddress target = MigrationLink.listen(kit.system(), "127.0.0.1", store).toCompletableFuture().get(10, TimeUnit.SECONDS);
        // A proxy of the test's own that passes 2 MiB on, then drops both connections.
        try (ServerSocket proxy = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             WritingGuest guest = new WritingGuest(false)) {
            Thread relay = Thread.ofPlatform().start(() -> {
                try (Socket in = proxy.accept(); Socket out = new Socket(target.getAddress(), target.getPort())) {
                    byte[] buf = new byte[64 << 10];
                    long passed = 0;
                    while (passed < (2 << 20)) {
                        int n = in.getInputStream().read(buf);
                        if (n < 0) break;
                        out.getOutputStream().write(buf, 0, n);
                        passed += n;
                    }
                    in.setSoLinger(true, 0);
                    out.setSoLinger(true, 0); // a reset, as a cut link or a killed peer gives
                } catch (Exception ignored) {
                    // the test's assertions say what happened
                }
            });
            var sending = MigrationLink.send(kit.system(), new InetSocketAddress("127.0.0.1", proxy.getLocalPort()), preCopy(guest, new ArrayList<>()));
            CompletionException failed = assertThrows(CompletionException.class, () -> sending.snapshotId().toCompletableFuture().join());
            assertTrue(failed.getCause() != null, failed.toString());
            relay.join();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
                try (var left = Files.list(dir.resolve("migrations"))) {
                    return left.map(Path::toString).toList();
                }
            }, List::isEmpty);
            assertTrue(store.manifests().list().isEmpty(), "no snapshot on the target");
        }
    }

    /** A killed target leaves its partial file behind: the next listener on that directory deletes it, not one being received. */
    @Test
    void partialFilesThatNoMigrationReceivesAreSweptAndLiveOnesKept(@TempDir Path dir) throws Exception {
        SnapshotStore store = SnapshotStore.open(dir);
        IncomingMigration live = new IncomingMigration(store);
        try (WritingGuest guest = new WritingGuest(false)) {
            live.accept(io.actorvm.persistence.proto.MigrationFrame.newBuilder().setHello(MigrationHello.newBuilder().setVmName("mover")
                    .setSourceNode("127.0.0.1:1").setEpoch(1).setMemory(SnapshotPages.layoutOf(guest.memory))).build());
        }
        Path stale = Files.write(dir.resolve("migrations").resolve("mover-1234" + IncomingMigration.INCOMING), new byte[4096]);
        Path done = Files.write(dir.resolve("migrations").resolve("snap.mem"), new byte[4096]);
        MigrationLink.listen(kit.system(), "127.0.0.1", store).toCompletableFuture().get(10, TimeUnit.SECONDS);
        try (var left = Files.list(dir.resolve("migrations"))) {
            List<String> names = left.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(2, names.size(), "the live file and the finished one are kept: " + names);
            assertTrue(!names.contains(stale.getFileName().toString()) && names.contains(done.getFileName().toString()), names.toString());
        }
        live.discard();
        assertEquals(List.of("snap.mem"), Files.list(dir.resolve("migrations")).map(p -> p.getFileName().toString()).toList());
    }

    @Test
    void framesOutOfOrderAreRefusedWithTheReason(@TempDir Path dir) {
        IncomingMigration in = new IncomingMigration(SnapshotStore.open(dir));
        var pages = io.actorvm.persistence.proto.MigrationFrame.newBuilder().setPages(
                io.actorvm.persistence.proto.MigrationPages.newBuilder().addPageNumbers(1)).build();
        assertEquals("frames before the hello", assertThrows(IncomingMigration.MigrationException.class, () -> in.accept(pages)).getMessage());
        var layout = io.actorvm.persistence.proto.MemoryLayout.newBuilder().setPageSize(PAGE)
                .addRegions(io.actorvm.persistence.proto.MemoryLayout.Region.newBuilder().setGuestAddress(0).setSize(RAM)).build();
        in.accept(io.actorvm.persistence.proto.MigrationFrame.newBuilder().setHello(MigrationHello.newBuilder().setVmName("v").setMemory(layout)).build());
        // A page frame whose data does not match its page count, and a page outside RAM.
        assertThrows(IncomingMigration.MigrationException.class, () -> in.accept(pages));
        var outside = io.actorvm.persistence.proto.MigrationFrame.newBuilder().setPages(io.actorvm.persistence.proto.MigrationPages.newBuilder()
                .addPageNumbers(RAM / PAGE).setData(com.google.protobuf.ByteString.copyFrom(new byte[PAGE]))).build();
        assertEquals("page 2048 is not guest RAM", assertThrows(IncomingMigration.MigrationException.class, () -> in.accept(outside)).getMessage());
        assertTrue(assertThrows(IncomingMigration.MigrationException.class, in::finish).getMessage().startsWith("the source ended before"));
        in.discard();
    }
}
