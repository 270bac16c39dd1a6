package io.actorvm.control.cli;

import com.typesafe.config.ConfigFactory;
import io.actorvm.control.api.ApiEndpoint;
import io.actorvm.control.api.MicroVm;
import io.actorvm.control.api.ServeApi;
import io.actorvm.control.api.VmDirectory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code actorvm vm ...} against a serve API whose VMs are stand-ins (a unit test of the client commands). */
class VmCommandTest {
    final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("pekko.http.server.idle-timeout = 5s"));
    final Map<String, VmConfig> started = new ConcurrentHashMap<>();
    @TempDir
    Path dir;

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
    }

    record Run(int status, String out, String err) {}

    Run actorvm(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true));
            System.setErr(new PrintStream(e, true));
            CommandLine cl = Main.commandLine(args);
            cl.setParameterExceptionHandler((x, a) -> {
                System.err.println("actorvm: " + x.getMessage());
                return Main.USAGE_ERROR;
            });
            return new Run(cl.execute(args), o.toString(), e.toString());
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void aMigrationsProgressBarFillsWithTheMibSentAgainstTheGuestsRam() {
        assertEquals("[#####               ]", VmCommand.progressBar("round 2, 64 MiB sent, 100 pages left", 256));
        assertEquals("[####################]", VmCommand.progressBar("round 3, 300 MiB sent, 0 pages left", 256));
        assertEquals("[                    ]", VmCommand.progressBar("connecting to 127.0.0.1:2552", 256));
    }

    @Test
    void createListPauseStatusConsoleAndDeleteByName() throws Exception {
        Path socket = dir.resolve("serve.sock");
        VmDirectory vms = new VmDirectory((name, console) -> MicroVm.unconfigured(name, dir, (behavior, config, checkKernel) -> {
            started.put(name, config);
            console.append(("hello from " + name + "\n").getBytes());
            Vm.State[] state = {Vm.State.RUNNING};
            return CompletableFuture.completedFuture(kit.spawn(Behaviors.receive(Vm.Command.class)
                    .onMessage(Vm.GetStatus.class, g -> {
                        g.replyTo().tell(new Vm.Status(name, state[0], null));
                        return Behaviors.same();
                    })
                    .onMessage(Vm.Pause.class, p -> {
                        state[0] = Vm.State.PAUSED;
                        p.replyTo().tell(StatusReply.ack());
                        return Behaviors.same();
                    })
                    .onMessage(Vm.Stop.class, s -> {
                        s.replyTo().tell(StatusReply.ack());
                        return Behaviors.stopped();
                    })
                    .build()));
        }));
        ServeApi.bind(kit.system(), vms, new ApiEndpoint.UnixSocket(socket));
        Path kernel = Files.writeString(dir.resolve("kernel"), "x"), disk = Files.write(dir.resolve("disk.img"), new byte[4096]);
        String sock = socket.toString();

        Run created = actorvm("vm", "create", "web-1", "--api-sock", sock, "--kernel", kernel.toString(), "--memory", "64M", "--cpus", "2",
                "--disk", disk + ",ro", "--rng", "--cmdline", "console=ttyS0", "--net", "switch=lan,mac=02:00:00:00:00:2a");
        assertEquals(0, created.status(), created.err());
        assertEquals("web-1 started\n", created.out());
        VmConfig c = started.get("web-1");
        assertEquals(64L << 20, c.memory());
        assertEquals(2, c.cpus());
        assertEquals("console=ttyS0 root=/dev/vda ro", c.cmdline());
        assertTrue(c.disks().getFirst().readOnly() && c.rng());
        assertEquals(io.actorvm.vmm.actors.NetConfig.Kind.SWITCH, c.nets().getFirst().kind());
        assertEquals("lan", c.nets().getFirst().name());
        assertEquals("02:00:00:00:00:2a", io.actorvm.vmm.actors.NetConfig.formatMac(c.nets().getFirst().mac()));
        assertEquals(0, actorvm("vm", "create", "db-1", "--api-sock", sock, "--kernel", kernel.toString(), "--no-start").status());

        assertEquals("web-1\trunning\ndb-1\tnot started\n", actorvm("vm", "list", "--api-sock", sock).out());
        assertEquals(0, actorvm("vm", "pause", "web-1", "--api-sock", sock).status());
        assertEquals("web-1: Paused, 2 vCPU(s), 64 MiB\n", actorvm("vm", "status", "web-1", "--api-sock", sock).out());
        assertEquals("hello from web-1\n", actorvm("vm", "console", "web-1", "--api-sock", sock).out());

        Run twice = actorvm("vm", "create", "web-1", "--api-sock", sock, "--kernel", kernel.toString());
        assertEquals(1, twice.status());
        assertEquals("actorvm: a VM named web-1 exists already\n", twice.err());
        Run paused = actorvm("vm", "pause", "db-1", "--api-sock", sock);
        assertEquals(1, paused.status());
        assertTrue(paused.err().startsWith("actorvm: the microVM is not started yet"), paused.err());

        assertEquals(0, actorvm("vm", "delete", "web-1", "--api-sock", sock).status());
        assertEquals(0, actorvm("vm", "start", "db-1", "--api-sock", sock).status());
        assertEquals("db-1\trunning\n", actorvm("vm", "list", "--api-sock", sock).out());
        Run gone = actorvm("vm", "status", "web-1", "--api-sock", sock);
        assertEquals("actorvm: no VM named web-1\n", gone.err());
        Run unreachable = actorvm("vm", "list", "--api-sock", dir.resolve("none.sock").toString());
        assertEquals(Main.USAGE_ERROR, unreachable.status());
        assertTrue(unreachable.err().startsWith("actorvm: cannot reach the API at"), unreachable.err());
    }

    @Test
    void clusterNamesANodesTcpApi() throws Exception {
        int port;
        try (var probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        VmDirectory vms = new VmDirectory((name, console) -> MicroVm.unconfigured(name, dir, (behavior, config, checkKernel) ->
                CompletableFuture.failedFuture(new IllegalStateException("not in this test"))));
        ServeApi.bind(kit.system(), vms, ApiEndpoint.tcp("tcp:127.0.0.1:" + port, false, null));
        Path kernel = Files.writeString(dir.resolve("kernel"), "x");
        Run created = actorvm("vm", "create", "web-1", "--cluster", "127.0.0.1:" + port, "--kernel", kernel.toString(), "--no-start");
        assertEquals(0, created.status(), created.err());
        Run listed = actorvm("vm", "list", "--cluster", "127.0.0.1:" + port);
        assertEquals(0, listed.status(), listed.err());
        assertEquals("web-1\tnot started\n", listed.out());
        Run both = actorvm("vm", "list", "--cluster", "127.0.0.1:" + port, "--api-sock", dir.resolve("x.sock").toString());
        assertEquals(Main.USAGE_ERROR, both.status());
        assertEquals("actorvm: give --cluster, --api-sock or --api, one of them\n", both.err());
    }
}
