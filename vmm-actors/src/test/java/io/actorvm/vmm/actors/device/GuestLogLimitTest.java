package io.actorvm.vmm.actors.device;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestLogLimitTest {
    @Test
    void aBurstThenOneLinePerIntervalAndTheNextLineCountsWhatWasLeftOut() throws InterruptedException {
        GuestLogLimit limit = new GuestLogLimit(3, Duration.ofMillis(200));
        int admitted = 0;
        for (int i = 0; i < 10_000; i++) if (limit.admit().isPresent()) admitted++;
        assertEquals(3, admitted, "a flood gets the burst only");
        Thread.sleep(250);
        OptionalLong next = limit.admit();
        assertTrue(next.isPresent());
        assertEquals(9_997, next.getAsLong());
        assertEquals(" (9997 similar messages suppressed)", GuestLogLimit.suppressedNote(next.getAsLong()));
        assertEquals("", GuestLogLimit.suppressedNote(0));
    }
}
