package io.actorvm.devices;

import io.actorvm.devices.acpi.AcpiSleepControl;
import io.actorvm.devices.debug.DebugExit;
import io.actorvm.devices.debug.PostCodePort;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.rtc.CmosRtc;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.devices.virtio.VirtioDevice;
import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.devices.virtio.blk.DiskImage;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.devices.virtio.net.VirtioNet;
import io.actorvm.devices.virtio.rng.VirtioRng;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guest drives every device register at random: reads and writes of any size at any offset
 * (legal ones most of the time, so that the models get past their first checks), with values
 * biased towards what reaches deep states (status sequences, queue addresses inside guest RAM).
 * No exception may escape a model, and every state a model reaches must survive its codec. Seeded:
 * a failure names the seed and the step, and replays with them.
 */
class DeviceRegisterFuzzTest {
    /** Steps per device in {@code ./mvnw verify}; the benchmark harness can raise it (-Dactorvm.fuzz.steps). */
    static final int STEPS = Integer.getInteger("actorvm.fuzz.steps", 100_000);
    static final long SEED = Long.getLong("actorvm.fuzz.seed", 0x5eed_f00dL);
    static final int[] VIRTIO_REGISTERS = {0x000, 0x004, 0x008, 0x00C, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038,
            0x044, 0x050, 0x060, 0x064, 0x070, 0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4, 0x0AC, 0x0B0, 0x0B8, 0x0FC,
            0x100, 0x104, 0x108, 0x110, 0x114};

    final GuestMemory memory = GuestMemory.allocate(new AddressMap(4L << 20));
    final List<AutoCloseable> open = new ArrayList<>();
    /** Times a transport reached DRIVER_OK with valid queues: the fuzz must get that deep. */
    int activations;
    @TempDir
    Path dir;

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : open) c.close();
        memory.close();
    }

    record Kind(String name, Supplier<BusDevice> build, int window, boolean virtio) {}

    List<Kind> kinds() throws IOException {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[1 << 16]);
        Clock clock = Clock.systemUTC();
        DiskImage disk = disk(image);
        return List.of(
                new Kind("serial", () -> new Serial16550(b -> {}, InterruptLine.NONE), Serial16550.PORT_COUNT, false),
                new Kind("cmos-rtc", () -> new CmosRtc(clock), CmosRtc.PORT_COUNT, false),
                new Kind("i8042", () -> new I8042(DeviceStatesTest.IGNORE, io.actorvm.devices.InterruptLine.NONE), I8042.PORT_COUNT, false),
                new Kind("post-code", PostCodePort::new, 1, false),
                new Kind("debug-exit", () -> new DebugExit(DeviceStatesTest.IGNORE), 1, false),
                new Kind("acpi-sleep", () -> new AcpiSleepControl(DeviceStatesTest.IGNORE, 5, 1), 1, false),
                new Kind("virtio-blk", () -> transport(new VirtioBlock(disk, "d0")), VirtioMmioTransport.WINDOW, true),
                new Kind("virtio-net", () -> transport(new VirtioNet(new byte[] {2, 0, 0, 0, 0, 1}, DeviceStatesTest.NO_NET)),
                        VirtioMmioTransport.WINDOW, true),
                new Kind("virtio-rng", () -> transport(new VirtioRng(EntropySource.secureRandom())), VirtioMmioTransport.WINDOW, true));
    }

    DiskImage disk(Path image) {
        try {
            DiskImage d = DiskImage.open(image, false);
            open.add(d);
            return d;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    VirtioMmioTransport transport(VirtioDevice device) {
        return new VirtioMmioTransport(device, new io.actorvm.devices.virtio.VirtioHost() {
            @Override public void activate(List<io.actorvm.io.buffering.virtq.SplitQueue.State> queues) { activations++; }
            @Override public void deactivate() {}
            @Override public void notifyQueue(int index) {}
        }, new VirtioInterrupt(() -> {}), memory);
    }

    @Test
    void noGuestAccessMakesAModelThrowAndEveryStateSurvivesItsCodec() throws IOException {
        int done = 0;
        for (Kind kind : kinds()) {
            SplittableRandom random = new SplittableRandom(SEED ^ kind.name().hashCode());
            BusDevice device = kind.build().get();
            int activationsBefore = activations;
            for (int step = 0; step < STEPS; step++) {
                long offset = offset(random, kind);
                int size = size(random);
                long value = value(random, kind, offset);
                try {
                    if (random.nextInt(3) == 0) device.read(offset, size);
                    else device.write(offset, size, value);
                    if (step % 1024 == 0 && device instanceof Stateful<?> s) roundTrip(s, kind);
                } catch (RuntimeException e) {
                    throw new AssertionError("%s, seed 0x%x, step %d: access at 0x%x size %d value 0x%x threw %s"
                            .formatted(kind.name(), SEED, step, offset, size, value, e), e);
                }
                done++;
            }
            if (kind.virtio()) assertTrue(activations > activationsBefore, kind.name() + " never reached DRIVER_OK with valid queues");
        }
        assertEquals(9L * STEPS, done);
    }

    /**
     * A snapshot's device state is read back from disk, so it is input too: a state blob whose
     * hash is valid but whose content is hostile (bytes flipped, cut, inserted, spliced from
     * another device) is either refused with a {@link DeviceStateException} or taken; either way
     * nothing else escapes, and the model then serves guest accesses without throwing.
     */
    @Test
    void aHostileStoredStateIsRefusedOrTakenAndTheModelGoesOn() throws IOException {
        List<Kind> kinds = kinds();
        List<byte[]> pool = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(SEED);
        for (Kind kind : kinds) {
            BusDevice device = kind.build().get();
            for (int step = 0; step < 4096; step++) {
                device.write(offset(random, kind), size(random), value(random, kind, offset(random, kind)));
                if (step % 512 == 0) pool.add(encoded(device, random));
            }
        }
        int refused = 0, taken = 0;
        for (int step = 0; step < STEPS; step++) {
            Kind kind = kinds.get(random.nextInt(kinds.size()));
            byte[] bytes = mutate(random, pool.get(random.nextInt(pool.size())), pool);
            BusDevice fresh = kind.build().get();
            try {
                DeviceStates.restore(fresh, bytes);
                taken++;
                for (int i = 0; i < 8; i++) {
                    long offset = offset(random, kind);
                    if (random.nextBoolean()) fresh.read(offset, size(random));
                    else fresh.write(offset, size(random), value(random, kind, offset));
                }
            } catch (DeviceStateException e) {
                refused++;
            } catch (RuntimeException e) {
                throw new AssertionError("%s, seed 0x%x, step %d: state %s threw %s"
                        .formatted(kind.name(), SEED, step, java.util.HexFormat.of().formatHex(bytes), e), e);
            }
        }
        System.out.printf("device state fuzz: %d hostile states, %d refused, %d taken (seed 0x%x)%n", STEPS, refused, taken, SEED);
        assertEquals(STEPS, refused + taken);
        assertTrue(taken > STEPS / 100, "too few mutated states were taken (" + taken + "): the mutations never get past the parser");
        assertTrue(refused > STEPS / 100, "too few mutated states were refused (" + refused + ")");
    }

    /** A model's state as a snapshot keeps it: a virtio transport with its queues' progress. */
    static byte[] encoded(BusDevice device, SplittableRandom r) {
        if (device instanceof VirtioMmioTransport t) {
            List<io.actorvm.io.buffering.virtq.SplitQueue.State> queues = new ArrayList<>();
            for (int q = 0; q < 2; q++) {
                queues.add(r.nextInt(3) == 0 ? null : new io.actorvm.io.buffering.virtq.SplitQueue.State(
                        1 << r.nextInt(9), 0x1000L * r.nextInt(64), 0x1000L * r.nextInt(64), 0x1000L * r.nextInt(64),
                        r.nextBoolean(), r.nextBoolean(), r.nextInt(1 << 16), r.nextInt(1 << 16), r.nextInt(1 << 16)));
            }
            return io.actorvm.devices.virtio.VirtioDeviceState.CODEC.encode(new io.actorvm.devices.virtio.VirtioDeviceState(t.state(), queues));
        }
        return device instanceof Stateful<?> s ? s.encodedState() : new byte[0];
    }

    /** One to four byte-level mutations: flips, cuts, insertions, a splice with another state. */
    static byte[] mutate(SplittableRandom r, byte[] original, List<byte[]> pool) {
        byte[] b = original.clone();
        for (int n = 1 + r.nextInt(4); n > 0; n--) {
            switch (r.nextInt(6)) {
                case 0, 1 -> { if (b.length > 0) b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8)); }
                case 2 -> { if (b.length > 0) b[r.nextInt(b.length)] = (byte) r.nextInt(256); }
                case 3 -> b = java.util.Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length));
                case 4 -> {
                    int at = r.nextInt(b.length + 1);
                    byte[] extra = new byte[1 + r.nextInt(8)];
                    r.nextBytes(extra);
                    byte[] out = new byte[b.length + extra.length];
                    System.arraycopy(b, 0, out, 0, at);
                    System.arraycopy(extra, 0, out, at, extra.length);
                    System.arraycopy(b, at, out, at + extra.length, b.length - at);
                    b = out;
                }
                default -> {
                    byte[] other = pool.get(r.nextInt(pool.size()));
                    int at = r.nextInt(b.length + 1), from = r.nextInt(other.length + 1);
                    byte[] out = java.util.Arrays.copyOf(b, at + other.length - from);
                    System.arraycopy(other, from, out, at, other.length - from);
                    b = out;
                }
            }
        }
        return b;
    }

    /** The state goes through the codec and back into a fresh model, which must report the same bytes. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    void roundTrip(Stateful s, Kind kind) {
        byte[] bytes = s.encodedState();
        Stateful fresh = (Stateful) kind.build().get();
        fresh.restoreEncoded(bytes);
        org.junit.jupiter.api.Assertions.assertArrayEquals(bytes, fresh.encodedState(), () -> kind.name() + " state after a round trip:\n"
                + s.state() + "\nbecame\n" + fresh.state());
    }

    static long offset(SplittableRandom r, Kind kind) {
        int pick = r.nextInt(20);
        if (pick == 0) return r.nextLong();                       // anything at all
        if (kind.virtio() && pick < 14) return VIRTIO_REGISTERS[r.nextInt(VIRTIO_REGISTERS.length)];
        return r.nextInt(kind.window());
    }

    static int size(SplittableRandom r) {
        int pick = r.nextInt(20);
        if (pick == 0) return r.nextInt(-1, 17);                  // sizes no CPU produces
        return new int[] {1, 2, 4, 8, 4, 4, 1}[r.nextInt(7)];
    }

    long value(SplittableRandom r, Kind kind, long offset) {
        if (!kind.virtio()) return r.nextInt(4) == 0 ? r.nextLong() : r.nextInt(256);
        return switch ((int) offset) {
            // Status: the driver's usual steps, a reset, or noise.
            case 0x070 -> new long[] {0, 1, 3, 11, 15, 0x80, r.nextLong()}[r.nextInt(7)];
            case 0x038 -> new long[] {1, 2, 8, 64, 256, 3, 0, r.nextInt(1 << 16)}[r.nextInt(8)];
            case 0x030, 0x044 -> r.nextInt(4);
            // Ring addresses: mostly inside guest RAM and aligned, so that activation is reached.
            case 0x080, 0x090, 0x0A0 -> r.nextInt(4) == 0 ? r.nextLong() : (r.nextInt(1024) * 4096L) & (memory.regions().getFirst().size() - 1);
            case 0x084, 0x094, 0x0A4 -> r.nextInt(8) == 0 ? r.nextInt() : 0;
            default -> r.nextInt(3) == 0 ? r.nextLong() : r.nextInt(16);
        };
    }
}
