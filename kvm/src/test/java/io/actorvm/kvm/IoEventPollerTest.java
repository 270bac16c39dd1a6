package io.actorvm.kvm;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The poller without KVM: plain eventfds and epoll. */
class IoEventPollerTest {

    @Test
    void aSignalReachesItsListenerAndCloseDoesNotWaitOutThePoll() throws Exception {
        try (EventFd doorbell = new EventFd()) {
            IoEventPoller poller = new IoEventPoller("poller-test");
            CountDownLatch rang = new CountDownLatch(3);
            poller.add(doorbell, rang::countDown);
            for (int i = 0; i < 3; i++) {
                doorbell.signal();
                TimeUnit.MILLISECONDS.sleep(20); // one call per wake-up: signals in one wait are drained together
            }
            assertTrue(rang.await(5, TimeUnit.SECONDS), "the listener was not called for every signal");
            TimeUnit.MILLISECONDS.sleep(50); // the thread is back in epoll_wait
            long t0 = System.nanoTime();
            poller.close();
            long closed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(closed < 100, "close took " + closed + " ms");
        }
    }
}
