package io.actorvm.devices.rtc;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CmosRtcTest {
    // 2026-11-21 13:45:07 UTC, a Saturday
    final Clock clock = Clock.fixed(Instant.parse("2026-11-21T13:45:07Z"), ZoneOffset.UTC);

    static int reg(CmosRtc rtc, int index) {
        rtc.write(0, 1, index | 0x80); // NMI-disable bit set, as Linux does: must be ignored
        return (int) rtc.read(1, 1);
    }

    @Test
    void readsHostTimeInBcdTwentyFourHourByDefault() {
        CmosRtc rtc = new CmosRtc(clock);
        assertEquals(0x07, reg(rtc, 0x00));
        assertEquals(0x45, reg(rtc, 0x02));
        assertEquals(0x13, reg(rtc, 0x04));
        assertEquals(7, reg(rtc, 0x06)); // Saturday
        assertEquals(0x21, reg(rtc, 0x07));
        assertEquals(0x11, reg(rtc, 0x08));
        assertEquals(0x26, reg(rtc, 0x09));
        assertEquals(0x20, reg(rtc, 0x32));
        assertEquals(0, reg(rtc, 0x0A) & 0x80, "update-in-progress never shows");
        assertEquals(0x80, reg(rtc, 0x0D));
    }

    @Test
    void binaryAndTwelveHourModesFollowStatusB() {
        CmosRtc rtc = new CmosRtc(clock);
        rtc.write(0, 1, 0x0B);
        rtc.write(1, 1, 0x04); // binary, 12-hour
        assertEquals(45, reg(rtc, 0x02));
        assertEquals(0x80 | 1, reg(rtc, 0x04)); // 1 PM
        assertEquals(26, reg(rtc, 0x09));
    }

    @Test
    void guestSetTimeIsKeptAsAnOffsetAndNvramIsPlainMemory() {
        CmosRtc rtc = new CmosRtc(clock);
        rtc.write(0, 1, 0x09);
        rtc.write(1, 1, 0x30); // year 2030 in BCD
        assertEquals(0x30, reg(rtc, 0x09));
        assertEquals(0x21, reg(rtc, 0x07));
        rtc.write(0, 1, 0x08);
        rtc.write(1, 1, 0x99); // month 99: impossible, ignored
        assertEquals(0x11, reg(rtc, 0x08));
        rtc.write(0, 1, 0x40);
        rtc.write(1, 1, 0xAB);
        assertEquals(0xAB, reg(rtc, 0x40));
        assertEquals(0x40, rtc.read(0, 1));
    }
}
