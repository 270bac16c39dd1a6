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
    /** Every change of IRQ 1, in order. */
    private final List<Boolean> irq = new ArrayList<>();
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
        }, irq::add);
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
        assertEquals(List.of(), kbc.state().output());
    }

    @Test
    void writeConfigCommandTakesTheNextDataByte() {
        kbc.write(COMMAND, 1, 0x60);
        assertEquals(0x60, kbc.state().pendingCommand());
        kbc.write(DATA, 1, 0x47);
        assertEquals(0x47, kbc.state().config());
        assertEquals(-1, kbc.state().pendingCommand());
        kbc.write(DATA, 1, 0x11); // the command took one byte only: this one goes to the keyboard
        assertEquals(0xFE, kbc.read(DATA, 1), "0x11 is no keyboard command: resend");
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

    /** Reads every byte waiting in the output buffer. */
    private List<Integer> drain() {
        List<Integer> out = new ArrayList<>();
        while ((kbc.read(STATUS, 1) & 1) != 0) out.add((int) kbc.read(DATA, 1));
        return out;
    }

    @Test
    void theKeyboardAnswersWhatLinuxsAtkbdSends() {
        kbc.write(DATA, 1, 0xFF);
        assertEquals(List.of(0xFA, 0xAA), drain(), "reset: acknowledged, self test passed");
        kbc.write(DATA, 1, 0xF2);
        assertEquals(List.of(0xFA, 0xAB, 0x41), drain(), "an MF2 keyboard, its id translated");
        kbc.write(DATA, 1, 0xED);
        assertEquals(List.of(0xFA), drain());
        kbc.write(DATA, 1, 0x07); // the LED byte: a parameter, not a command
        assertEquals(List.of(0xFA), drain());
        kbc.write(DATA, 1, 0xF3);
        kbc.write(DATA, 1, 0x20);
        kbc.write(DATA, 1, 0xF4);
        assertEquals(List.of(0xFA, 0xFA, 0xFA), drain());
        kbc.write(DATA, 1, 0xEE);
        assertEquals(List.of(0xEE), drain(), "echo");

        kbc.write(COMMAND, 1, 0x60);
        kbc.write(DATA, 1, 0x05); // translation off
        kbc.write(DATA, 1, 0xF2);
        assertEquals(List.of(0xFA, 0xAB, 0x83), drain(), "the id as the keyboard sends it");
    }

    @Test
    void ctrlAltDelArrivesInSetOneWithTranslationAndSetTwoWithout() {
        assertEquals(I8042.CTRL_ALT_DEL.length, kbc.receive(I8042.CTRL_ALT_DEL));
        assertEquals(List.of(0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D), drain());

        kbc.write(COMMAND, 1, 0x60);
        kbc.write(DATA, 1, 0x01);
        kbc.receive(I8042.CTRL_ALT_DEL);
        assertEquals(List.of(0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14), drain());
    }

    @Test
    void irqOneIsRaisedPerWaitingByteOnlyWhileEnabled() {
        kbc.receive(I8042.CTRL_ALT_DEL);
        assertEquals(List.of(), irq, "the keyboard interrupt is off in the power-on configuration byte");
        drain();
        kbc.write(COMMAND, 1, 0x60);
        kbc.write(DATA, 1, 0x45); // interrupt on, translation on
        kbc.receive(new byte[] {0x14, (byte) 0xF0, 0x14});
        assertEquals(List.of(true), irq);
        kbc.read(DATA, 1);
        assertEquals(List.of(true, false, true), irq, "a new edge for the second byte");
        kbc.read(DATA, 1);
        assertEquals(List.of(true, false, true, false), irq);
        assertEquals(0, kbc.read(STATUS, 1) & 1);
    }

    @Test
    void keysWaitForScanningAndABoundedBuffer() {
        kbc.write(DATA, 1, 0xF5); // scanning off
        drain();
        assertEquals(0, kbc.receive(I8042.CTRL_ALT_DEL));
        kbc.write(DATA, 1, 0xF4);
        drain();
        // 11 set-2 bytes become 8 translated ones: the second call fills the 16 bytes, the third finds no room.
        assertEquals(List.of(11, 11, 0), List.of(kbc.receive(I8042.CTRL_ALT_DEL), kbc.receive(I8042.CTRL_ALT_DEL),
                kbc.receive(I8042.CTRL_ALT_DEL)));
        assertEquals(16, drain().size());
        assertEquals(22, kbc.metrics().keysDropped(), "the call while scanning was off, and the one with no room");
        assertEquals(0, kbc.receive(new byte[] {0x1C}), "a key this keyboard does not have");
    }

    @Test
    void stateKeepsTheWaitingBytesAndReadsVersionOne() {
        kbc.write(DATA, 1, 0xED); // waiting for its LED byte
        kbc.receive(new byte[] {0x14});
        I8042.State s = kbc.state();
        assertEquals(List.of(0xFA, 0x1D), s.output());
        assertEquals(0xED, s.keyboardCommand());
        I8042 copy = new I8042(IGNORE_VM, level -> {});
        copy.restore(I8042.CODEC.decode(I8042.CODEC.encode(s)));
        assertEquals(s, copy.state());

        byte[] v1 = io.actorvm.devices.proto.DeviceStateEnvelope.newBuilder().setKind("i8042").setVersion(1)
                .setState(io.actorvm.devices.proto.I8042State.newBuilder().setConfig(0x47).setPendingCommand(-1).setOutput(0x55)
                        .setOutputFull(true).setResets(2).build().toByteString()).build().toByteArray();
        I8042.State old = I8042.CODEC.decode(v1);
        assertEquals(new I8042.State(0x47, -1, List.of(0x55), 2, -1, true, 0), old);
    }

    private static final VmControl IGNORE_VM = new VmControl() {
        @Override
        public void requestReset(String reason) {}

        @Override
        public void requestPowerOff() {}

        @Override
        public void requestExit(int status) {}
    };
}
