package io.actorvm.vmm.actors.cluster;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link VmCluster#askUntilAnswered}: how a cluster define asks again when its answer is late. */
class AskUntilAnsweredTest {
    /** An ask whose first {@code timeouts} tries time out and the next one answers "done". */
    private static java.util.function.Supplier<CompletionStage<String>> answersAfter(int timeouts, AtomicInteger asked) {
        return () -> asked.incrementAndGet() <= timeouts
                ? CompletableFuture.failedFuture(new org.apache.pekko.pattern.AskTimeoutException("no answer within 30 s"))
                : CompletableFuture.completedFuture("done");
    }

    @Test
    void anAskThatTimesOutIsSentAgainUntilAnswered() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        List<Integer> told = new ArrayList<>();
        assertEquals("done", VmCluster.askUntilAnswered(answersAfter(2, asked), 4, told::add).toCompletableFuture().get());
        assertEquals(3, asked.get());
        assertEquals(List.of(2, 1), told, "asks left after each repeated one");
    }

    @Test
    void itGivesUpAfterItsAsksWithTheTimeout() {
        AtomicInteger asked = new AtomicInteger();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> VmCluster.askUntilAnswered(answersAfter(9, asked), 4, left -> {}).toCompletableFuture().get());
        assertInstanceOf(TimeoutException.class, e.getCause());
        assertEquals(4, asked.get());
    }

    @Test
    void aFailureThatIsNotATimeoutIsNotAskedAgain() {
        AtomicInteger asked = new AtomicInteger();
        ExecutionException e = assertThrows(ExecutionException.class, () -> VmCluster.<String>askUntilAnswered(() -> {
            asked.incrementAndGet();
            return CompletableFuture.failedFuture(new IllegalStateException("node b has no VM host registered yet"));
        }, 4, left -> {}).toCompletableFuture().get());
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals(1, asked.get());
    }
}
