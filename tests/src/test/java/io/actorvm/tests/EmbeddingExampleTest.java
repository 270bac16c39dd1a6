package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The README's embedding example, kept compiling and true. */
class EmbeddingExampleTest {
    @Test
    void readmeExampleRuns() throws Exception {
        GuestRun.assumeKvm();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        // --- as in README.md ---
        VmConfig config = new VmConfig("web-1", GuestRun.guest("hello"), "", 16L << 20, 1,
                b -> { synchronized (console) { console.write(b); } });
        ActorSystem<Vm.Command> system = ActorSystem.create(Vm.create(config), "vms");
        CompletionStage<Vm.Terminated> ended =
                AskPattern.ask(system, Vm.WatchTermination::new, Duration.ofMinutes(5), system.scheduler());
        AskPattern.<Vm.Command, StatusReply<Done>>ask(system, Vm.Start::new, Duration.ofSeconds(30), system.scheduler());
        Vm.Terminated t = ended.toCompletableFuture().get(60, TimeUnit.SECONDS);
        system.terminate();
        // ---
        assertEquals("guest exited with status 0", t.reason());
        synchronized (console) {
            assertEquals("hello from guest\n", console.toString());
        }
    }
}
