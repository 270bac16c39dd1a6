package io.actorvm.control.cli;

import io.actorvm.control.api.ApiEndpoint;
import io.actorvm.control.api.ControlApi;
import io.actorvm.control.api.MicroVm;
import io.actorvm.control.api.VmDirectory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code actorvm serve --api-sock PATH [--data-dir DIR]}: one JVM, many VMs, each created and
 * addressed by name through the API ({@code POST /vms}, then Firecracker's routes under
 * {@code /vms/NAME/}). Runs until it is stopped (SIGTERM, Ctrl-C), which stops every VM.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Host many VMs in one process, created and configured by name through the API (POST /vms, then /vms/NAME/boot-source, ...).")
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ApiOptions api;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "journal and snapshots of the VMs (default: a private directory removed at exit)")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
        ApiEndpoint endpoint;
        try {
            endpoint = api.endpoint();
            if (endpoint == null) throw new IllegalArgumentException("serve needs --api-sock PATH (or --api tcp:HOST:PORT)");
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        String kvm = HostCheck.kvmProblem();
        if (kvm != null) {
            System.err.println("actorvm: " + kvm);
            return Main.USAGE_ERROR;
        }
        boolean scratch = dataDir == null;
        Path data;
        try {
            data = scratch ? Files.createTempDirectory("actorvm-serve-") : Files.createDirectories(dataDir);
        } catch (IOException e) {
            System.err.println("actorvm: cannot use data directory " + dataDir + ": " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "actorvm", VmRunner.systemConfig(data));
        AtomicInteger launches = new AtomicInteger();
        VmDirectory vms = new VmDirectory((name, console) -> MicroVm.unconfigured(name, data, (behavior, config, checkKernel) -> {
            int n = launches.incrementAndGet();
            ActorRef<ConsoleOutput> output = system.systemActorOf(ConsoleHub.subscriber(console::append), "console-" + name + "-" + n, Props.empty());
            ActorRef<Vm.Terminated> ended = system.systemActorOf(Behaviors.receiveMessage(t -> {
                System.err.println("actorvm: VM " + name + " ended: " + t.reason() + " (status " + t.exitStatus() + ")");
                return Behaviors.stopped();
            }), "end-" + name + "-" + n, Props.empty());
            return VmLaunch.start(system, behavior, config, checkKernel, "vm-" + name + "-" + n, output, ended);
        }));
        ControlApi.Binding binding;
        try {
            binding = io.actorvm.control.api.ServeApi.bind(system, vms, endpoint);
        } catch (IOException e) {
            System.err.println("actorvm: cannot serve the API on " + endpoint + ": " + e.getMessage());
            system.terminate();
            return Main.USAGE_ERROR;
        }
        System.err.println("actorvm: serving VMs on " + binding.address());
        if (endpoint instanceof ApiEndpoint.Tcp tcp) {
            System.err.println("actorvm: web console at http://" + (tcp.host().contains(":") ? "[" + tcp.host() + "]" : tcp.host())
                    + ":" + tcp.port() + "/ui/");
        }
        // SIGTERM or Ctrl-C: Pekko's coordinated shutdown stops every VM; the socket and a private data directory go too.
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            binding.close();
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().orTimeout(20, java.util.concurrent.TimeUnit.SECONDS).exceptionally(x -> null).join();
            if (scratch) ApiConfiguredRun.deleteTree(data);
        }));
        system.getWhenTerminated().toCompletableFuture().join();
        return 0;
    }
}
