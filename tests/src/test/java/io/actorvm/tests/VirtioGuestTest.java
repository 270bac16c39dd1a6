package io.actorvm.tests;

import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** virtio-blk and virtio-rng through the whole path: ioeventfd → poller → ring actor → backend → irq. */
class VirtioGuestTest extends ActorTestSupport {
    @TempDir
    Path dir;

    record Result(String console, Vm.Terminated termination, Vm.Stats stats) {}

    Result run(VmConfig config) {
        var vm = kit.spawn(Vm.create(config));
        GuestRun.Capture console = GuestRun.Capture.attach(kit, vm);
        vm.tell(new Vm.Start(kit.system().ignoreRef()));
        Vm.Terminated t = console.awaitEnd(Duration.ofSeconds(120));
        TestProbe<Vm.Stats> stats = kit.createTestProbe();
        vm.tell(new Vm.GetStats(stats.getRef()));
        return new Result(console.text(), t, stats.expectMessageClass(Vm.Stats.class));
    }

    Path image(int bytes) throws Exception {
        byte[] data = new byte[bytes];
        new Random(42).nextBytes(data);
        return Files.write(dir.resolve("disk.img"), data);
    }

    static String crc(byte[] data) {
        CRC32 c = new CRC32();
        c.update(data);
        return "%08x".formatted(c.getValue());
    }

    static DeviceActor.Metrics device(Result r, String prefix) {
        return r.stats().devices().stream().filter(d -> d.device().startsWith(prefix)).findFirst().orElseThrow();
    }

    @Test
    void blkCheckReadsTheWholeDiskAndWritesThroughFlush() throws Exception {
        GuestRun.assumeKvm();
        Path img = image(128 * 1024);
        byte[] before = Files.readAllBytes(img);
        VmConfig config = new VmConfig("blk", GuestRun.guest("blk-check"), "", 64L << 20, 1)
                .withDisks(List.of(new DiskConfig(img, false)));
        Result r = run(config);

        assertEquals(0, r.termination().exitStatus(), r.console());
        assertTrue(r.console().contains("blk crc32=" + crc(before) + " bytes=131072\n"), r.console());
        assertTrue(r.console().contains("blk write done\n"), r.console());
        byte[] after = Files.readAllBytes(img);
        byte[] a5 = new byte[4096];
        Arrays.fill(a5, (byte) 0xA5);
        assertArrayEquals(a5, Arrays.copyOfRange(after, 65536, 65536 + 4096));
        assertArrayEquals(Arrays.copyOfRange(before, 0, 65536), Arrays.copyOfRange(after, 0, 65536), "nothing else changed");
        assertArrayEquals(Arrays.copyOfRange(before, 69632, before.length), Arrays.copyOfRange(after, 69632, after.length));
        var blk = device(r, "virtio-blk");
        assertEquals(1L, blk.counters().get("flushes"));
        assertEquals(0L, blk.counters().get("notifications_by_register"), "queue notifications arrive by ioeventfd");
        assertEquals(0L, blk.counters().get("needs_reset"));
    }

    @Test
    void readOnlyDiskRefusesTheWriteAndStaysUnchanged() throws Exception {
        GuestRun.assumeKvm();
        Path img = image(128 * 1024);
        byte[] before = Files.readAllBytes(img);
        VmConfig config = new VmConfig("blk-ro", GuestRun.guest("blk-check"), "", 64L << 20, 1)
                .withDisks(List.of(new DiskConfig(img, true)));
        Result r = run(config);

        assertTrue(r.console().contains("blk crc32=" + crc(before)), r.console());
        assertTrue(r.console().contains("blk write refused status=1\n"), r.console());
        assertEquals(3, r.termination().exitStatus());
        assertArrayEquals(before, Files.readAllBytes(img));
        assertEquals(1L, device(r, "virtio-blk").counters().get("io_errors"));
    }

    @Test
    void rngGuestGetsEntropy() {
        GuestRun.assumeKvm();
        VmConfig config = new VmConfig("rng", GuestRun.guest("rng"), "", 16L << 20, 1).withRng(true);
        Result r = run(config);
        assertEquals(0, r.termination().exitStatus(), r.console());
        assertTrue(r.console().contains("rng ok bytes=256\n"), r.console());
        assertEquals(256L, device(r, "virtio-rng").counters().get("bytes"));
    }
}
