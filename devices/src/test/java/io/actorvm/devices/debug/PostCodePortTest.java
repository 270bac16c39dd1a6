package io.actorvm.devices.debug;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PostCodePortTest {
    private final PostCodePort port = new PostCodePort();

    @Test
    void startsEmpty() {
        assertEquals(new PostCodePort.State(List.of(), 0), port.state());
        assertEquals(-1L, port.metrics().lastCode());
        assertEquals(0L, port.metrics().writes());
        assertEquals(0x80, PostCodePort.PORT);
    }

    @Test
    void keepsCodesInOrderAsBytes() {
        port.write(0, 1, 0x11);
        port.write(0, 1, 0x1AA);
        port.write(0, 1, -1);
        assertEquals(new PostCodePort.State(List.of(0x11, 0xAA, 0xFF), 3), port.state());
        assertEquals(0xFFL, port.metrics().lastCode());
    }

    @Test
    void historyKeepsTheLastSixtyFour() {
        for (int i = 0; i < 100; i++) port.write(0, 1, i);
        PostCodePort.State s = port.state();
        assertEquals(100, s.writes());
        assertEquals(IntStream.range(36, 100).boxed().toList(), s.recentCodes());
        assertEquals(99L, port.metrics().lastCode());
        assertEquals(100L, port.metrics().writes());
    }

    @Test
    void exactlySixtyFourAreAllKept() {
        for (int i = 0; i < 64; i++) port.write(0, 1, i);
        assertEquals(IntStream.range(0, 64).boxed().toList(), port.state().recentCodes());
        port.write(0, 1, 64);
        assertEquals(IntStream.range(1, 65).boxed().toList(), port.state().recentCodes());
    }

    @Test
    void stateIsASnapshot() {
        port.write(0, 1, 1);
        PostCodePort.State s = port.state();
        port.write(0, 1, 2);
        assertEquals(List.of(1), s.recentCodes());
    }

    @Test
    void readsAllOnes() {
        assertEquals(-1L, port.read(0, 1));
    }
}
