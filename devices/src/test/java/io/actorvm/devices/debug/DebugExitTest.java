package io.actorvm.devices.debug;

import io.actorvm.devices.VmControl;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DebugExitTest {
    private final List<Integer> exits = new ArrayList<>();
    private final List<String> resets = new ArrayList<>();
    private final DebugExit dev = new DebugExit(new VmControl() {
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

    @Test
    void writeRequestsExitWithTheByte() {
        assertEquals(new DebugExit.State(-1, 0), dev.state());
        dev.write(0, 1, 0x2A);
        assertEquals(List.of(42), exits);
        assertEquals(List.of(), resets);
        assertEquals(new DebugExit.State(42, 1), dev.state());
        assertEquals(1L, dev.metrics().exitRequests());
    }

    @Test
    void statusIsTheLowByte() {
        dev.write(0, 2, 0x1FF);
        dev.write(0, 4, 0xFFFF_FF00L);
        dev.write(0, 1, -1L);
        assertEquals(List.of(0xFF, 0, 0xFF), exits);
        assertEquals(new DebugExit.State(0xFF, 3), dev.state());
    }

    @Test
    void readsLikeAnUnclaimedPort() {
        assertEquals(-1L, dev.read(0, 1));
        assertEquals(List.of(), exits);
        assertEquals(0x501, DebugExit.DEFAULT_PORT);
    }
}
