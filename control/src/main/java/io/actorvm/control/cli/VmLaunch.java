package io.actorvm.control.cli;

import io.actorvm.boot.KernelFormatException;
import io.actorvm.kvm.KvmUnavailableException;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** Starting a VM the API configured (or loaded), in a process that hosts it beside other actors. */
final class VmLaunch {
    static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private VmLaunch() {
    }

    /**
     * Checks the kernel (when {@code checkKernel}), spawns {@code behavior} as {@code actorName},
     * attaches {@code console} to its output and {@code watcher} to its end (before Start, so a VM
     * that fails to start is seen ending), and starts it; completes with the VM once it runs.
     */
    static CompletionStage<ActorRef<Vm.Command>> start(ActorSystem<?> system, Behavior<Vm.Command> behavior, VmConfig config,
                                                       boolean checkKernel, String actorName, ActorRef<ConsoleOutput> console,
                                                       ActorRef<Vm.Terminated> watcher) {
        try {
            if (checkKernel) VmRunner.preflight(config);
        } catch (KernelFormatException | KvmUnavailableException e) {
            return CompletableFuture.failedFuture(e);
        }
        ActorRef<Vm.Command> vm = system.systemActorOf(behavior, actorName, Props.empty());
        vm.tell(new Vm.AttachConsole(console));
        vm.tell(new Vm.WatchTermination(watcher));
        return AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, Vm.Start::new, START_TIMEOUT, system.scheduler())
                .thenApply(reply -> {
                    if (reply.isError()) throw new IllegalStateException(reply.getError().getMessage());
                    return vm;
                });
    }
}
