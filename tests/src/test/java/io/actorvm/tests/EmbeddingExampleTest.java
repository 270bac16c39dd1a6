package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.console.ConsoleHub;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The README's embedding example, kept compiling and true. */
class EmbeddingExampleTest {
    @Test
    void readmeExampleRuns() throws Exception {
        GuestRun.assumeKvm();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        // --- as in README.md ---
        VmConfig config = new VmConfig("web-1", GuestRun.guest("hello"), "", 16L << 20, 1);
        ActorSystem<Vm.Command> system = ActorSystem.create(Vm.create(config), "vms");
        system.tell(new Vm.AttachConsole(system.systemActorOf(    // COM1 output, as a stream
                ConsoleHub.subscriber(bytes -> { synchronized (console) { console.writeBytes(bytes); } }), "console", Props.empty())));
        CompletionStage<Vm.Terminated> ended =
                AskPattern.ask(system, Vm.WatchTermination::new, Duration.ofMinutes(5), system.scheduler());
        AskPattern.<Vm.Command, StatusReply<Done>>ask(system, Vm.Start::new, Duration.ofSeconds(30), system.scheduler());
        Vm.Terminated t = ended.toCompletableFuture().get(60, TimeUnit.SECONDS);
        // ---
        assertEquals("guest exited with status 0", t.reason());
        // The subscriber is its own actor: its last chunk may be written just after the end arrives.
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            synchronized (console) {
                return console.toString().equals("hello from guest\n");
            }
        });
        system.terminate();
    }
}
