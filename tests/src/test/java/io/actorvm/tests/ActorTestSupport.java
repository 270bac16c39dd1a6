package io.actorvm.tests;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** One actor test kit per test class, for the guest tests that spawn VMs in it. */
abstract class ActorTestSupport {
    static ActorTestKit kit;

    @BeforeAll
    static void startKit() {
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void stopKit() {
        kit.shutdownTestKit();
    }
}
