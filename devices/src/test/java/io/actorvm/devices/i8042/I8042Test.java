package io.actorvm.devices.i8042;

import io.actorvm.devices.VmControl;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class I8042Test {
    private static final int DATA = 0, STATUS = 4, COMMAND = 4;

    private final List<String> resets = new ArrayList<>();
    private final List<Integer> exits = new ArrayList<>();
    private I8042 kbc;

    @BeforeEach
    void setUp() {
        kbc = new I8042(new VmControl() {
            @Override
            public void requestReset(String reason) {
                resets.add(reason);
            }

            @Override

            public void requestPowerOff() {

                throw new AssertionError("no power-off expected");

            }


            @Override
            public void requestExit(int status) {
                exits.add(status);
            }
        });
    }

    @Test
    void occupiesPortsSixtyToSixtyFour() {
        assertEquals(0x60, I8042.BASE_PORT);
        assertEquals(5, I8042.PORT_COUNT);
        assertEquals("i8042", kbc.name());
    }

    @Test
    void pulseResetLineRequestsOneReset() {
        kbc.write(COMMAND, 1, 0xFE);
        assertEquals(1, resets.size());
        assertTrue(resets.getFirst().contains("0xFE"), resets.getFirst());
        assertEquals(List.of(), exits);
        assertEquals(1L, kbc.metrics().resetRequests());
        assertEquals(1L, kbc.state().resets());
    }

    @Test
    void resetOnlyFromTheCommandPort() {
        kbc.write(DATA, 1, 0xFE);
        kbc.write(1, 1, 0xFE);
        kbc.write(3, 1, 0xFE);
        kbc.write(COMMAND, 1, 0xFF);
        kbc.write(COMMAND, 1, 0xFD);
        assertEquals(List.of(), resets);
        kbc.write(COMMAND, 1, 0x1FE); // only the low byte counts
        assertEquals(1, resets.size());
    }

    @Test
    void statusSaysSystemFlagAndNothingToRead() {
        assertEquals(0x14, kbc.read(STATUS, 1));
        assertEquals(0x14, kbc.read(STATUS, 1));
    }

    @Test
    void readConfigCommandThenDataRead() {
        kbc.write(COMMAND, 1, 0x20);
        assertEquals(0x15, kbc.read(STATUS, 1), "output buffer full");
        assertEquals(0x44, kbc.read(DATA, 1));
        assertEquals(0x14, kbc.read(STATUS, 1), "output buffer drained");
        assertFalse(kbc.state().outputFull());
    }

    @Test
    void writeConfigCommandTakesTheNextDataByte() {
        kbc.write(DATA, 1, 0x99); // no command pending: ignored
        kbc.write(COMMAND, 1, 0x60);
        assertEquals(0x60, kbc.state().pendingCommand());
        kbc.write(DATA, 1, 0x47);
        assertEquals(0x47, kbc.state().config());
        assertEquals(-1, kbc.state().pendingCommand());
        kbc.write(DATA, 1, 0x11); // the command took one byte only
        kbc.write(COMMAND, 1, 0x20);
        assertEquals(0x47, kbc.read(DATA, 1));
    }

    @Test
    void otherPortsReadAllOnes() {
        assertEquals(0xFF, kbc.read(1, 1));
        assertEquals(0xFF, kbc.read(2, 1));
        assertEquals(0xFF, kbc.read(3, 1));
    }

    @Test
    void answersTheSelfTestsLinuxProbesWith() {
        kbc.write(COMMAND, 1, 0xAA);
        assertEquals(1, kbc.read(STATUS, 1) & 1, "output buffer full after the self test");
        assertEquals(0x55, kbc.read(DATA, 1));
        assertEquals(0, kbc.read(STATUS, 1) & 1, "reading the data port empties the buffer");
        kbc.write(COMMAND, 1, 0xAB);
        assertEquals(0x00, kbc.read(DATA, 1));
        kbc.write(COMMAND, 1, 0xA9);
        assertEquals(0x02, kbc.read(DATA, 1), "no mouse port: its interface test fails");
    }
}
