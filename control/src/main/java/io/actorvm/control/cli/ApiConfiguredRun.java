package io.actorvm.control.cli;

import io.actorvm.control.api.ApiEndpoint;
import io.actorvm.control.api.ControlApi;
import io.actorvm.control.api.MicroVm;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code actorvm run --api-sock PATH} with no kernel: the process waits, as Firecracker does, for
 * its VM to be configured and started through the API (or loaded from a snapshot), runs it with
 * the terminal as its serial console, and exits with the VM's exit status. Snapshots go to
 * {@code --data-dir}, or to a private directory removed when the process ends (Firecracker's
 * snapshots are the files the API names, not a store).
 */
final class ApiConfiguredRun {
    private ApiConfiguredRun() {
    }

    static int run(String name, Path dataDir, ApiEndpoint endpoint, boolean printStats) throws InterruptedException {
        String kvm = HostCheck.kvmProblem();
        if (kvm != null) {
            System.err.println("actorvm: " + kvm);
            return Main.USAGE_ERROR;
        }
        Path data = dataDir;
        boolean scratch = data == null;
        try {
            if (scratch) data = Files.createTempDirectory("actorvm-" + name + "-");
        } catch (IOException e) {
            System.err.println("actorvm: cannot create a data directory: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        ActorSystem<Void> system;
        try {
            system = ActorSystem.create(Behaviors.empty(), "actorvm", VmRunner.systemConfig(data));
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        Console console = new Console();
        CompletableFuture<Vm.Terminated> termination = new CompletableFuture<>();
        ActorRef<Vm.Command>[] running = newRef();
        AtomicInteger launches = new AtomicInteger();
        MicroVm.Launcher launcher = (behavior, config, checkKernel) ->
                launch(system, console, termination, behavior, config, checkKernel, launches.incrementAndGet(), running);
        ControlApi.Binding binding = null;
        try {
            try {
                binding = ControlApi.bind(system, MicroVm.unconfigured(name, data, launcher), endpoint);
            } catch (IOException e) {
                System.err.println("actorvm: cannot serve the API on " + endpoint + ": " + e.getMessage());
                return Main.USAGE_ERROR;
            }
            Vm.Terminated t;
            try {
                t = termination.get();
            } catch (ExecutionException e) {
                System.err.println("actorvm: " + e.getCause().getMessage());
                return 1;
            }
            console.restore();
            if (t.error()) System.err.println("actorvm: " + t.reason());
            if (printStats && running[0] != null) VmRunner.printStats(system, running[0]);
            return t.exitStatus();
        } finally {
            console.restore();
            if (binding != null) binding.close();
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().orTimeout(10, java.util.concurrent.TimeUnit.SECONDS)
                    .exceptionally(x -> null).join();
            if (scratch) deleteTree(data);
        }
    }

    @SuppressWarnings("unchecked")
    private static ActorRef<Vm.Command>[] newRef() {
        return (ActorRef<Vm.Command>[]) new ActorRef[1];
    }

    /** Starts the VM with the terminal as its console; the console input follows once it runs. */
    private static CompletionStage<ActorRef<Vm.Command>> launch(ActorSystem<Void> system, Console console,
                                                                CompletableFuture<Vm.Terminated> termination,
                                                                Behavior<Vm.Command> behavior, VmConfig config, boolean checkKernel,
                                                                int attempt, ActorRef<Vm.Command>[] running) {
        // A VM that fails to start ends the process, its reason on stderr (the writer sees the end).
        ActorRef<Object> writer = system.systemActorOf(console.writer(termination), "console-writer-" + attempt, DispatcherSelector.blocking());
        return VmLaunch.start(system, behavior, config, checkKernel, "vm-" + attempt, writer.narrow(), writer.narrow()).thenApply(vm -> {
            running[0] = vm;
            console.enterRawMode();
            console.pumpInput(vm, () -> vm.tell(new Vm.Stop("quit from the console (Ctrl-A x)", system.ignoreRef())));
            return vm;
        });
    }

    static void deleteTree(Path dir) {
        try {
            org.apache.commons.io.file.PathUtils.deleteDirectory(dir);
        } catch (IOException ignored) {
            // a temporary directory left behind is only clutter
        }
    }
}
