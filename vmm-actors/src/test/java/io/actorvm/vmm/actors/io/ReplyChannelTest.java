package io.actorvm.vmm.actors.io;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ReplyChannelTest {

    @Test
    void aLateAnswerToAReadGivenUpOnIsNotTakenForTheNextOne() throws Exception {
        ReplyChannel channel = new ReplyChannel(Thread.currentThread());
        long first = channel.open();
        assertThrows(TimeoutException.class, () -> channel.await(first, System.nanoTime()));
        channel.answer(first, 0xAA); // the device answers after the vCPU gave up
        long second = channel.open();
        channel.answer(first, 0xBB); // and again, late
        Thread.ofPlatform().start(() -> channel.answer(second, 0x42));
        assertEquals(0x42, channel.await(second, System.nanoTime() + 5_000_000_000L));
    }

    @Test
    void anInterruptedWaitEndsAndKeepsNoAnswer() {
        ReplyChannel channel = new ReplyChannel(Thread.currentThread());
        long ticket = channel.open();
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, () -> channel.await(ticket, System.nanoTime() + 5_000_000_000L));
        channel.answer(ticket, 1);
        long next = channel.open();
        channel.answer(next, 2);
        try {
            assertEquals(2, channel.await(next, System.nanoTime() + 1_000_000_000L));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
