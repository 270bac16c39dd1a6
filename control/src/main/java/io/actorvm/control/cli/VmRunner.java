package io.actorvm.control.cli;

import com.typesafe.config.ConfigFactory;
import io.actorvm.kvm.Kvm;
import io.actorvm.kvm.KvmUnavailableException;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.control.api.ControlApi;
import io.actorvm.vmm.actors.journal.Journal;
import io.actorvm.boot.Bootloader;
import io.actorvm.boot.KernelFormatException;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/** Runs one VM in its own actor system with the terminal as its console; returns the exit status. */
final class VmRunner {
    private VmRunner() {}

    /** Checks what can be checked before any actor starts; each failure is one line. */
    static void preflight(VmConfig config) {
        try {
            if (!Files.isRegularFile(config.kernel())) throw new KernelFormatException("kernel file " + config.kernel() + " does not exist");
            Bootloader.check(Files.readAllBytes(config.kernel()));
            if (config.initrd() != null && !Files.isReadable(config.initrd())) {
                throw new KernelFormatException("initrd file " + config.initrd() + " does not exist or is not readable");
            }
            for (var disk : config.disks()) {
                io.actorvm.devices.virtio.blk.DiskImage.open(disk.path(), disk.readOnly()).close();
            }
        } catch (IOException e) {
            throw new KernelFormatException(e.getMessage().startsWith("disk image") ? e.getMessage()
                    : "cannot read kernel file " + config.kernel() + ": " + e.getMessage());
        }
        try (Kvm kvm = Kvm.open()) {
            // open() checked existence, permission and the API version
        }
    }

    /** Whether {@code --gdb}'s address (null: none) is usable; prints the one-line error when not. */
    static boolean gdbAddressValid(String gdb) {
        try {
            if (gdb != null) io.actorvm.control.gdb.GdbServer.parse(gdb);
            return true;
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return false;
        }
    }

    static int run(VmConfig config, boolean printStats) throws InterruptedException {
        return run(config, Vm.create(config), null, printStats, true, null, false);
    }

    /** What {@link #withRecording} runs. */
    interface VmRun {
        int run() throws InterruptedException;
    }

    /**
     * Runs {@code run} with a JFR recording of actorvm's events (sampled exits, snapshots,
     * restores, device errors) written to {@code jfr} when it ends; no recording when null.
     */
    static int withRecording(java.nio.file.Path jfr, VmRun run) throws InterruptedException {
        if (jfr == null) return run.run();
        io.actorvm.vmm.actors.jfr.VmRecording recording;
        try {
            recording = io.actorvm.vmm.actors.jfr.VmRecording.start(jfr);
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        try (recording) {
            return run.run();
        }
    }

    /** The actor-system configuration of the CLI, with the journal of {@code dataDir} if there is one. */
    static com.typesafe.config.Config systemConfig(java.nio.file.Path dataDir) {
        var conf = ConfigFactory.parseString("""
                pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
                pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
                pekko.loglevel = WARNING
                pekko.stdout-loglevel = OFF
                pekko.log-dead-letters = off
                # A full snapshot may take minutes on a slow host: the control API's connection must
                # outlive it (the snapshot route sets its own request timeout).
                pekko.http.server.idle-timeout = 15 min
                # An accepted connection is dropped, unanswered, if the server has not taken it within
                # this time (default 5 s): a JVM starved of CPU (the guest's vCPU thread and a client
                # JVM starting on one emulated CPU) can take longer: a likely cause of an empty reply
                # to a snapshot request seen once in CI (not reproduced since).
                pekko.io.tcp.register-timeout = 60s
                """);
        if (dataDir != null) conf = conf.withFallback(Journal.openData(dataDir).pekkoConfig());
        return conf.withFallback(ConfigFactory.load());
    }

    /**
     * Runs {@code behavior} (a fresh or a restored VM) with the terminal as console; serves the
     * control API where {@code api} says (none when null, or without --api-sock or --api).
     */
    static int run(VmConfig config, org.apache.pekko.actor.typed.Behavior<Vm.Command> behavior, ApiOptions api, boolean printStats,
                   boolean checkKernel, String gdb, boolean gdbStepping) throws InterruptedException {
        io.actorvm.control.api.ApiEndpoint endpoint;
        try {
            endpoint = api == null ? null : api.endpoint();
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        try {
            if (checkKernel) preflight(config);
            else Kvm.open().close();
        } catch (KernelFormatException | KvmUnavailableException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        Console console = new Console();
        ActorSystem<Vm.Command> system;
        try {
            system = ActorSystem.create(behavior, "actorvm", systemConfig(config.dataDir()));
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        ControlApi.Binding apiBinding = null;
        io.actorvm.control.gdb.GdbServer gdbServer = null;
        try {
            if (endpoint != null) {
                try {
                    var instance = io.actorvm.control.api.MicroVm.running(system, config);
                    if (api.webConsole) {
                        if (!(endpoint instanceof io.actorvm.control.api.ApiEndpoint.Tcp tcp)) {
                            System.err.println("actorvm: --web-console needs --api tcp:HOST:PORT (a browser cannot open a Unix socket)");
                            return Main.USAGE_ERROR;
                        }
                        var tail = new io.actorvm.control.api.ConsoleTail();
                        var output = system.systemActorOf(io.actorvm.vmm.actors.console.ConsoleHub.subscriber(tail::append), "web-console",
                                org.apache.pekko.actor.typed.Props.empty());
                        system.tell(new Vm.AttachConsole(output));
                        apiBinding = io.actorvm.control.api.ServeApi.bindWithWebConsole(system, config.name(), instance, tail, endpoint);
                        System.err.println("actorvm: web console at http://" + (tcp.host().contains(":") ? "[" + tcp.host() + "]" : tcp.host())
                                + ":" + tcp.port() + "/ui/");
                    } else {
                        apiBinding = ControlApi.bind(system, instance, endpoint);
                    }
                } catch (java.io.IOException e) {
                    System.err.println("actorvm: cannot serve the API on " + endpoint + ": " + e.getMessage());
                    return Main.USAGE_ERROR;
                }
            }
            if (gdb != null) {
                try {
                    gdbServer = io.actorvm.control.gdb.GdbServer.start(system, system, gdb, gdbStepping);
                } catch (java.io.IOException e) {
                    System.err.println("actorvm: cannot serve gdb on " + gdb + ": " + e.getMessage());
                    return Main.USAGE_ERROR;
                }
                System.err.println("actorvm: the guest waits for gdb: target remote " + gdb.substring(4));
            }
            // Guest output and the VM's end reach one actor, so the last output is written before the end is seen.
            var termination = new CompletableFuture<Vm.Terminated>();
            ActorRef<Object> writer = system.systemActorOf(console.writer(termination), "console-writer", DispatcherSelector.blocking());
            system.tell(new Vm.AttachConsole(writer.narrow()));
            system.tell(new Vm.WatchTermination(writer.narrow()));
            StatusReply<Done> started = AskPattern.<Vm.Command, StatusReply<Done>>ask(system, Vm.Start::new,
                    Duration.ofSeconds(60), system.scheduler()).toCompletableFuture().get();
            if (started.isError()) {
                System.err.println("actorvm: " + started.getError().getMessage());
                return Main.USAGE_ERROR;
            }
            console.enterRawMode();
            console.pumpInput(system, () -> system.tell(new Vm.Stop("quit from the console (Ctrl-A x)", system.ignoreRef())));
            Vm.Terminated t = termination.get();
            console.restore();
            if (t.error()) System.err.println("actorvm: " + t.reason());
            if (printStats) printStats(system, system);
            return t.exitStatus();
        } catch (ExecutionException e) {
            System.err.println("actorvm: " + e.getCause().getMessage());
            return 1;
        } finally {
            console.restore();
            if (apiBinding != null) apiBinding.close(); // the socket file goes with the VMM
            if (gdbServer != null) gdbServer.close();
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().orTimeout(10, java.util.concurrent.TimeUnit.SECONDS)
                    .exceptionally(x -> null).join();
        }
    }

    static void printStats(ActorSystem<?> system, ActorRef<Vm.Command> vm) throws InterruptedException {
        try {
            Vm.Stats s = AskPattern.<Vm.Command, Vm.Stats>ask(vm, Vm.GetStats::new, Duration.ofSeconds(10),
                    system.scheduler()).toCompletableFuture().get();
            StringBuilder b = new StringBuilder("actorvm stats:");
            s.io().forEach((k, v) -> b.append(' ').append(k).append('=').append(v));
            System.err.println(b);
            for (var d : s.devices()) {
                StringBuilder db = new StringBuilder("actorvm device ").append(d.device()).append(':');
                for (Map.Entry<String, Long> e : new java.util.TreeMap<>(d.counters()).entrySet()) {
                    db.append(' ').append(e.getKey()).append('=').append(e.getValue());
                }
                db.append(" failures=").append(d.failures()).append(" batches=").append(d.batches())
                        .append(" batched_writes=").append(d.batchedWrites());
                System.err.println(db);
            }
        } catch (ExecutionException e) {
            System.err.println("actorvm: stats unavailable: " + e.getCause().getMessage());
        }
    }
}
