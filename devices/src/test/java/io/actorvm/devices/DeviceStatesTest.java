package io.actorvm.devices;

import io.actorvm.devices.acpi.AcpiSleepControl;
import io.actorvm.devices.debug.DebugExit;
import io.actorvm.devices.debug.PostCodePort;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.proto.DeviceStateEnvelope;
import io.actorvm.devices.rtc.CmosRtc;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.devices.virtio.VirtioDevice;
import io.actorvm.devices.virtio.VirtioDeviceState;
import io.actorvm.devices.virtio.VirtioHost;
import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.devices.virtio.blk.DiskImage;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.devices.virtio.net.NetBackend;
import io.actorvm.devices.virtio.net.VirtioNet;
import io.actorvm.devices.virtio.rng.VirtioRng;
import io.actorvm.io.buffering.virtq.SplitQueue;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

import static io.actorvm.devices.virtio.VirtioMmioTransport.S_ACKNOWLEDGE;
import static io.actorvm.devices.virtio.VirtioMmioTransport.S_DRIVER;
import static io.actorvm.devices.virtio.VirtioMmioTransport.S_FEATURES_OK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every device actorvm can attach, driven out of its reset state, round-trips its state through its
 * codec and the registry and into a freshly built model of the same kind; stored states that are
 * damaged, foreign or newer are refused with a one-line error.
 */
class DeviceStatesTest {
    static final VmControl IGNORE = new VmControl() {
        @Override public void requestReset(String reason) {}
        @Override public void requestPowerOff() {}
        @Override public void requestExit(int status) {}
    };
    static final NetBackend NO_NET = new NetBackend() {
        @Override public void start(java.util.function.Consumer<byte[]> receiver) {}
        @Override public void send(byte[] frame) {}
        @Override public void close() {}
    };
    static final VirtioHost NO_RINGS = new VirtioHost() {
        @Override public void activate(List<SplitQueue.State> queues) {}
        @Override public void deactivate() {}
        @Override public void notifyQueue(int index) {}
    };

    final GuestMemory memory = GuestMemory.allocate(new AddressMap(4L << 20));
    final List<AutoCloseable> open = new ArrayList<>();
    @TempDir
    Path dir;

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : open) c.close();
        memory.close();
    }

    /** A kind of device: how to build one, and how a guest moves it away from its reset state. */
    record Kind(String name, Supplier<Stateful<?>> build, java.util.function.Consumer<Stateful<?>> drive) {}

    List<Kind> kinds() throws IOException {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[1 << 16]);
        Clock clock = Clock.fixed(Instant.parse("2026-12-02T10:00:00Z"), ZoneOffset.UTC);
        return List.of(
                new Kind("serial", () -> new Serial16550(b -> {}, InterruptLine.NONE), d -> {
                    var uart = (Serial16550) d;
                    uart.write(3, 1, 0x83);  // DLAB: divisor latch
                    uart.write(0, 1, 0x01);
                    uart.write(3, 1, 0x03);
                    uart.write(7, 1, 0x5A);  // scratch
                    uart.write(2, 1, 0x01);  // FIFO on
                    uart.receive(new byte[] {'h', 'i'});
                }),
                new Kind("cmos-rtc", () -> new CmosRtc(clock), d -> {
                    var rtc = (CmosRtc) d;
                    rtc.write(0, 1, 0x40);
                    rtc.write(1, 1, 0x77);  // an NVRAM byte
                }),
                new Kind("i8042", () -> new I8042(IGNORE, InterruptLine.NONE), d -> {
                    var kbc = (I8042) d;
                    kbc.receive(I8042.CTRL_ALT_DEL); // keys waiting for the guest
                    kbc.write(0, 1, 0xED);  // a keyboard command waiting for its parameter
                    kbc.write(4, 1, 0x60);  // "write command byte" pending
                }),
                new Kind("post-code", PostCodePort::new, d -> ((PostCodePort) d).write(0, 1, 0x42)),
                new Kind("debug-exit", () -> new DebugExit(IGNORE), d -> ((DebugExit) d).write(0, 1, 3)),
                new Kind("acpi-sleep", () -> new AcpiSleepControl(IGNORE, 5, 1), d -> ((AcpiSleepControl) d).write(0, 1, 0x99)),
                new Kind("virtio-blk", () -> transport(() -> new VirtioBlock(disk(image), "d0")), this::negotiate),
                new Kind("virtio-net", () -> transport(() -> new VirtioNet(new byte[] {2, 0, 0, 0, 0, 1}, NO_NET)), this::negotiate),
                new Kind("virtio-rng", () -> transport(() -> new VirtioRng(io.actorvm.devices.EntropySource.secureRandom())), this::negotiate));
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

    VirtioMmioTransport transport(Supplier<VirtioDevice> device) {
        return new VirtioMmioTransport(device.get(), NO_RINGS, new VirtioInterrupt(() -> {}), memory);
    }

    // virtio-mmio register offsets (virtio 1.2, 4.2.2)
    static final int STATUS = 0x070, DRIVER_FEATURES = 0x020, DRIVER_FEATURES_SEL = 0x024, QUEUE_SEL = 0x030,
            QUEUE_NUM = 0x038, QUEUE_DESC_LOW = 0x080;

    /** A driver negotiates features and describes queue 0, stopping short of DRIVER_OK. */
    void negotiate(Stateful<?> d) {
        var t = (VirtioMmioTransport) d;
        t.write(STATUS, 4, S_ACKNOWLEDGE | S_DRIVER);
        t.write(DRIVER_FEATURES_SEL, 4, 1);
        t.write(DRIVER_FEATURES, 4, 1); // VERSION_1
        t.write(STATUS, 4, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
        t.write(QUEUE_SEL, 4, 0);
        t.write(QUEUE_NUM, 4, 16);
        t.write(QUEUE_DESC_LOW, 4, 0x10000);
    }

    @Test
    void everyDeviceRoundTripsItsStateIntoAFreshModel() throws IOException {
        Set<String> seen = new HashSet<>();
        for (Kind k : kinds()) {
            Stateful<?> device = k.build().get();
            byte[] reset = device.encodedState();
            k.drive().accept(device);
            byte[] driven = device.encodedState();
            assertFalse(Arrays.equals(reset, driven), k.name() + ": driving the device changes its state");

            Record decoded = DeviceStates.decode(driven);
            assertEquals(device.state().getClass(), decoded.getClass(), k.name());
            Stateful<?> fresh = k.build().get();
            fresh.restoreEncoded(driven);
            assertArrayEquals(driven, fresh.encodedState(), k.name() + ": a restored model has the state it was given");
            seen.add(device.codec().kind());
            if (device instanceof VirtioMmioTransport t) {
                seen.add(t.device().codec().kind());
                assertTrue(t.state().device().features() != 0, k.name() + ": the model's negotiated features are in the state");
            }
        }
        VirtioMmioTransport running = (VirtioMmioTransport) kinds().get(6).build().get();
        negotiate(running);
        var snapshot = new VirtioDeviceState(running.state(), java.util.Arrays.asList(
                new SplitQueue.State(16, 0x10000, 0x11000, 0x12000, true, false, 7, 5, 5), null));
        byte[] bytes = VirtioDeviceState.CODEC.encode(snapshot);
        assertArrayEquals(bytes, VirtioDeviceState.CODEC.encode((VirtioDeviceState) DeviceStates.decode(bytes)));
        seen.add(VirtioDeviceState.CODEC.kind());
        seen.add(VirtioMmioTransport.CODEC.kind());
        assertEquals(DeviceStates.CODECS.stream().map(StateCodec::kind).collect(java.util.stream.Collectors.toSet()), seen,
                "the registry holds exactly the codecs of the devices actorvm attaches");
    }

    @Test
    void damagedForeignOrNewerStatesAreOneLineErrors() {
        byte[] serial = new Serial16550(b -> {}, InterruptLine.NONE).encodedState();
        var e = assertThrows(DeviceStateException.class, () -> DeviceStates.decode(new byte[] {(byte) 0xFF, 0x01, 0x02}));
        assertEquals("device state does not parse", e.getMessage());
        e = assertThrows(DeviceStateException.class, () -> I8042.CODEC.decode(serial));
        assertEquals("a serial-16550 state is not a i8042 state", e.getMessage());
        byte[] newer = DeviceStateEnvelope.newBuilder(parse(serial)).setVersion(Serial16550.CODEC.version() + 1).build().toByteArray();
        e = assertThrows(DeviceStateException.class, () -> DeviceStates.decode(newer));
        assertTrue(e.getMessage().startsWith("serial-16550 state has schema version 2"), e.getMessage());
        byte[] unknown = DeviceStateEnvelope.newBuilder(parse(serial)).setKind("floppy").build().toByteArray();
        e = assertThrows(DeviceStateException.class, () -> DeviceStates.decode(unknown));
        assertEquals("device state of unknown kind 'floppy'", e.getMessage());
        // A virtio-blk model's state does not restore into a virtio-rng transport.
        VirtioMmioTransport blk = transport(() -> new VirtioRng(io.actorvm.devices.EntropySource.secureRandom()));
        VirtioMmioTransport.State s = blk.state();
        var asBlk = new VirtioMmioTransport.State(s.status(), s.deviceFeaturesSel(), s.driverFeaturesSel(), s.driverFeatures(),
                s.queueSel(), s.queues(), s.interruptStatus(), s.configGeneration(), s.error(), VirtioBlock.CODEC, s.device());
        blk.restore(asBlk);
        assertTrue(blk.error() != null && blk.error().contains("virtio-blk state, not a virtio-rng one"), String.valueOf(blk.error()));
    }

    static DeviceStateEnvelope parse(byte[] b) {
        try {
            return DeviceStateEnvelope.parseFrom(b);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }
}
