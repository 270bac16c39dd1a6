package io.actorvm.vmm.actors.snapshot;

import io.actorvm.devices.debug.PostCodePort;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.rtc.CmosRtc;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.persistence.SnapshotCorruptException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DeviceStateCodecTest {
    @Test
    void legacyDeviceStatesRoundTripAndRestoreIntoFreshModels() {
        Serial16550 uart = new Serial16550(b -> { }, level -> { });
        uart.write(1, 1, 0x01);            // IER: receive interrupts
        uart.write(7, 1, 0x5A);            // scratch
        uart.receive("ab".getBytes());
        Serial16550.State s = (Serial16550.State) DeviceStateCodec.decode("serial", DeviceStateCodec.encode(uart.state()));
        Serial16550 fresh = new Serial16550(b -> { }, level -> { });
        fresh.restore(s);
        assertEquals(0x01, fresh.read(1, 1));
        assertEquals(0x5A, fresh.read(7, 1));
        assertEquals('a', fresh.read(0, 1));
        assertArrayEquals(uart.state().rx(), s.rx());

        CmosRtc.State rtc = new CmosRtc.State(0x0B, new byte[128], 3600);
        CmosRtc.State back = (CmosRtc.State) DeviceStateCodec.decode("cmos-rtc", DeviceStateCodec.encode(rtc));
        assertEquals(3600, back.offsetSeconds());
        assertEquals(new I8042.State(0x44, -1, 7, true, 2), DeviceStateCodec.decode("i8042",
                DeviceStateCodec.encode(new I8042.State(0x44, -1, 7, true, 2))));
        assertEquals(new PostCodePort.State(List.of(1, 2), 2), DeviceStateCodec.decode("post", DeviceStateCodec.encode(new PostCodePort.State(List.of(1, 2), 2))));
        assertNull(DeviceStateCodec.encode(new io.actorvm.devices.debug.DebugExit.State(0, 0)));
        assertThrows(SnapshotCorruptException.class, () -> DeviceStateCodec.decode("x", new byte[] {(byte) 0xFF, 0x01}));
    }
}
