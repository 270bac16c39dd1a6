package io.actorvm.vmm.actors.console;

import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ConsoleHubTest {
    static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static String text(TestProbe<ConsoleOutput> probe) {
        return new String(probe.receiveMessage(Duration.ofSeconds(5)).bytes(), StandardCharsets.US_ASCII);
    }

    @Test
    void everySubscriberGetsTheOutputInOrderFromWhenItAttached() {
        ActorRef<ConsoleHub.Command> hub = kit.spawn(ConsoleHub.create());
        TestProbe<ConsoleOutput> early = kit.createTestProbe(), late = kit.createTestProbe();
        hub.tell(new ConsoleHub.Attach(early.getRef()));
        hub.tell(new ConsoleHub.Publish("a".getBytes(StandardCharsets.US_ASCII)));
        hub.tell(new ConsoleHub.Attach(late.getRef()));
        hub.tell(new ConsoleHub.Publish("b".getBytes(StandardCharsets.US_ASCII)));
        hub.tell(new ConsoleHub.Publish("c".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("a", text(early));
        assertEquals("b", text(early));
        assertEquals("c", text(early));
        assertEquals("b", text(late));
        assertEquals("c", text(late));
    }

    @Test
    void aSubscriberAskingForReplayGetsTheLastHistoryBytesFirstAndAttachingTwiceChangesNothing() {
        ActorRef<ConsoleHub.Command> hub = kit.spawn(ConsoleHub.create());
        TestProbe<ConsoleOutput> fresh = kit.createTestProbe(), late = kit.createTestProbe();
        hub.tell(new ConsoleHub.Attach(fresh.getRef(), true)); // nothing published yet: nothing replayed
        hub.tell(new ConsoleHub.Publish("boot\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("boot\n", text(fresh));
        hub.tell(new ConsoleHub.Attach(late.getRef(), true));
        hub.tell(new ConsoleHub.Attach(late.getRef(), true));
        hub.tell(new ConsoleHub.Publish("next\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("boot\n", text(late));
        assertEquals("next\n", text(late));
        late.expectNoMessage(Duration.ofMillis(200));

        // More than the ring holds, in chunks that wrap it and one larger than all of it: the last HISTORY bytes, in order.
        byte[] all = new byte[3 * ConsoleHub.HISTORY + 123];
        for (int i = 0; i < all.length; i++) all[i] = (byte) ('a' + (i * 7 + i / 13) % 26);
        ActorRef<ConsoleHub.Command> big = kit.spawn(ConsoleHub.create());
        int[] chunks = {1000, ConsoleHub.HISTORY - 7, 5, ConsoleHub.HISTORY + 500};
        int at = 0;
        for (int n : chunks) {
            big.tell(new ConsoleHub.Publish(java.util.Arrays.copyOfRange(all, at, at + n)));
            at += n;
        }
        big.tell(new ConsoleHub.Publish(java.util.Arrays.copyOfRange(all, at, all.length)));
        TestProbe<ConsoleOutput> reader = kit.createTestProbe();
        big.tell(new ConsoleHub.Attach(reader.getRef(), true));
        org.junit.jupiter.api.Assertions.assertArrayEquals(java.util.Arrays.copyOfRange(all, all.length - ConsoleHub.HISTORY, all.length),
                reader.receiveMessage(Duration.ofSeconds(5)).bytes());
    }

    @Test
    void aDetachedOrStoppedSubscriberGetsNothingMore() {
        ActorRef<ConsoleHub.Command> hub = kit.spawn(ConsoleHub.create());
        TestProbe<ConsoleOutput> detached = kit.createTestProbe(), stopped = kit.createTestProbe(), stays = kit.createTestProbe();
        for (var p : java.util.List.of(detached, stopped, stays)) hub.tell(new ConsoleHub.Attach(p.getRef()));
        hub.tell(new ConsoleHub.Detach(detached.getRef()));
        stopped.stop();
        TestProbe<Done> flushed = kit.createTestProbe();
        hub.tell(new ConsoleHub.Flush(flushed.getRef()));
        flushed.receiveMessage(Duration.ofSeconds(5));
        hub.tell(new ConsoleHub.Publish("x".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("x", text(stays));
        detached.expectNoMessage(Duration.ofMillis(200));
    }

    @Test
    void aFlushIsAnsweredAfterEverythingPublishedBeforeItWasSentOn() {
        ActorRef<ConsoleHub.Command> hub = kit.spawn(ConsoleHub.create());
        TestProbe<Object> both = kit.createTestProbe();
        hub.tell(new ConsoleHub.Attach(both.getRef().narrow()));
        for (int i = 0; i < 100; i++) hub.tell(new ConsoleHub.Publish(new byte[] {(byte) i}));
        hub.tell(new ConsoleHub.Flush(both.getRef().narrow()));
        for (int i = 0; i < 100; i++) assertEquals(i, ((ConsoleOutput) both.receiveMessage(Duration.ofSeconds(5))).bytes()[0]);
        assertEquals(Done.getInstance(), both.receiveMessage(Duration.ofSeconds(5)));
    }
}
