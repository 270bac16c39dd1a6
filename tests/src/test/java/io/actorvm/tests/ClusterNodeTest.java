package io.actorvm.tests;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static io.actorvm.tests.FirecrackerApiGuestTest.curl;
import static io.actorvm.tests.FirecrackerApiGuestTest.put;
import static io.actorvm.tests.ServeGuestTest.JSON;
import static io.actorvm.tests.ServeGuestTest.json;
import static io.actorvm.tests.SnapshotRestoreTest.awaitOutput;
import static io.actorvm.tests.SnapshotRestoreTest.processOutput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code actorvm node}: separate JVMs on loopback forming a Pekko cluster whose VMs are sharded
 * entities. Two nodes share a real PostgreSQL journal: VMs created through one node's API run on
 * both nodes, and the other node lists, reads the console of and stops every one of them. One node
 * alone needs only its data directory (H2), and its VMs' journal outlives the process.
 */
class ClusterNodeTest {
    @TempDir
    Path dir;

    /** A node process: its API socket and output files. */
    record Node(String name, Process process, Path socket, Path out, int port) {
        String address() {
            return "127.0.0.1:" + port;
        }
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Node node(String name, int port, String... extra) throws Exception {
        Path socket = dir.resolve(name + ".sock"), out = dir.resolve(name + ".out");
        List<String> args = new ArrayList<>(List.of("node", "--data-dir", dir.resolve(name + "-data").toString(),
                "--cluster-port", Integer.toString(port), "--api-sock", socket.toString()));
        args.addAll(List.of(extra));
        Process p = new ProcessBuilder(GuestRun.cli(args.toArray(String[]::new)))
                .redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        Node n = new Node(name, p, socket, out, port);
        awaitOutput(out, () -> Files.exists(socket) || !p.isAlive());
        assertTrue(p.isAlive(), "node " + name + " runs" + processOutput(out));
        return n;
    }

    private static void stop(Node n) throws Exception {
        n.process().destroy(); // SIGTERM: leaves the cluster
        if (!n.process().waitFor(60, TimeUnit.SECONDS)) n.process().destroyForcibly().waitFor();
    }

    /** Creates a counter VM through {@code n}'s API as the Firecracker guides do, and starts it. */
    private static void createCounter(Node n, String name) throws Exception {
        FirecrackerApiGuestTest.Answer created = curl(n.socket(), "POST", "/vms", "{\"name\": \"" + name + "\"}");
        assertEquals(201, created.status(), created.body());
        put(n.socket(), "/vms/" + name + "/boot-source", "{\"kernel_image_path\": \"" + GuestRun.guest("counter")
                + "\", \"boot_args\": \"every=200000\"}");
        put(n.socket(), "/vms/" + name + "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 16}");
        put(n.socket(), "/vms/" + name + "/actions", "{\"action_type\": \"InstanceStart\"}");
    }

    private static JsonNode list(Node n) throws Exception {
        return json(curl(n.socket(), "GET", "/vms", null));
    }

    private static String console(Node n, String vm) throws Exception {
        return json(curl(n.socket(), "GET", "/vms/" + vm + "/console", null)).get("text").asText();
    }

    /** Runs the {@code vm} CLI against {@code n}; returns its stdout (exit status 0 asserted). */
    private String vmCli(Node n, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("vm"));
        all.addAll(List.of(args));
        all.addAll(List.of("--api-sock", n.socket().toString()));
        Process p = new ProcessBuilder(GuestRun.cli(all.toArray(String[]::new))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "vm " + String.join(" ", args) + " ends");
        assertEquals(0, p.exitValue(), "vm " + String.join(" ", args) + ": " + out);
        return out;
    }

    @Test
    void twoNodesSharingAPostgresJournalServeEveryVmFromEitherNode() throws Exception {
        GuestRun.assumeKvm();
        try (PostgresServer pg = PostgresServer.start()) {
            int portA = freePort(), portB = freePort();
            Node a = node("a", portA, "--journal", pg.url());
            Node b = null;
            try {
                b = node("b", portB, "--journal", pg.url(), "--seed", a.address());
                Node nodeB = b;
                // Both nodes up, as each sees the cluster, before any VM is placed.
                for (Node n : List.of(a, b)) {
                    awaitOutput(n.out(), () -> {
                        JsonNode nodes = json(curl(n.socket(), "GET", "/nodes", null));
                        int up = 0;
                        for (JsonNode m : nodes) if (m.get("status").asText().equals("up")) up++;
                        return up == 2;
                    });
                }
                List<String> names = List.of("count-0", "count-1", "count-2", "count-3");
                for (String name : names) createCounter(a, name);

                // Node b lists every VM, each running, on one node or the other, and both nodes host some.
                awaitOutput(b.out(), () -> {
                    JsonNode vms = list(nodeB);
                    if (vms.size() != names.size()) return false;
                    for (JsonNode vm : vms) if (!vm.get("state").asText().equals("running")) return false;
                    return true;
                });
                JsonNode vms = list(b);
                Set<String> hosts = new HashSet<>();
                for (JsonNode vm : vms) hosts.add(vm.get("node").asText());
                System.out.println("cluster-node: placement " + vms);
                assertEquals(Set.of(a.address(), b.address()), hosts, "the VMs live on both nodes: " + vms);

                // Each VM's console reaches node b, wherever the VM runs.
                for (String name : names) awaitOutput(b.out(), () -> console(nodeB, name).contains("count 200000"));

                // The CLI through node b: the list with each VM's node; a stop of a VM that may live on a.
                String listed = vmCli(b, "list");
                for (String name : names) assertTrue(listed.contains(name + "\trunning\t127.0.0.1:"), listed);
                vmCli(b, "stop", "count-0");
                awaitOutput(a.out(), () -> {
                    for (JsonNode vm : list(a)) if (vm.get("name").asText().equals("count-0")) return vm.get("state").asText().equals("stopped");
                    return false;
                });
                // A name is taken cluster-wide: node b, which has listed count-1, refuses to create it again.
                FirecrackerApiGuestTest.Answer again = curl(b.socket(), "POST", "/vms", "{\"name\": \"count-1\"}");
                assertEquals(409, again.status(), again.body());
                assertTrue(again.body().contains("exists already"), again.body());
            } finally {
                if (b != null) stop(b);
                stop(a);
            }
        }
    }

    @Test
    void aNodeAloneNeedsOnlyItsDataDirectoryAndItsJournalOutlivesIt() throws Exception {
        GuestRun.assumeKvm();
        Node n = node("solo", freePort());
        try {
            vmCli(n, "create", "solo-vm", "--kernel", GuestRun.guest("counter").toString(), "--memory", "16M", "--cmdline", "every=200000");
            awaitOutput(n.out(), () -> console(n, "solo-vm").contains("count 200000"));
            String listed = vmCli(n, "list");
            assertTrue(listed.contains("solo-vm\trunning\t" + n.address()), listed);
            vmCli(n, "stop", "solo-vm");
            awaitOutput(n.out(), () -> vmCli(n, "list").contains("solo-vm\tstopped"));
        } finally {
            stop(n);
        }
        // The same data directory, a new process: the VM is still defined, and stopped.
        Node again = node("solo", freePort());
        try {
            String listed = vmCli(again, "list");
            assertTrue(listed.contains("solo-vm\tstopped\t" + again.address()), listed);
        } finally {
            stop(again);
        }
    }
}
