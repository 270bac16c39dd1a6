package io.actorvm.control.cli;

import io.actorvm.control.api.ApiEndpoint;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code actorvm start-up-training --kernel GUEST} (hidden): the workload the launcher runs once
 * after each build with {@code -XX:AOTCacheOutput}, so that the JVM's ahead-of-time cache holds the
 * classes (parsed and linked) and profiles of what processes start with. A lone node on loopback
 * (its own data directory, deleted afterwards) serves its API; through it a VM is created,
 * configured, started, read and listed, as the Firecracker-style clients and {@code vm} do; then
 * the node leaves, as on SIGTERM. Where KVM is missing the VM's start is refused and the rest still
 * runs: most of a node's start is Pekko's cluster, sharding, journal and HTTP server, not KVM.
 */
@Command(name = "start-up-training", hidden = true, description = "Train the JVM's start-up cache (run by the launcher).")
final class StartUpTrainingCommand implements Callable<Integer> {
    @Option(names = "--kernel", required = true, paramLabel = "GUEST", description = "a guest that prints and ends (the hello guest)")
    Path kernel;

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("actorvm-start-up-training");
        Path socket = dir.resolve("api.sock");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        NodeCommand node = new NodeCommand();
        new CommandLine(node).parseArgs("--data-dir", dir.resolve("data").toString(), "--cluster-port", Integer.toString(port),
                "--api-sock", socket.toString());
        node.withoutKvm = true;
        Thread serving = Thread.ofPlatform().daemon().name("training-node").start(() -> {
            try {
                node.call();
            } catch (Exception e) {
                System.err.println("actorvm: the training node failed: " + e);
            }
        });
        try {
            long deadline = System.nanoTime() + 300_000_000_000L;
            while (node.leave == null) { // set once the API serves
                if (!serving.isAlive() || System.nanoTime() > deadline) return Main.USAGE_ERROR;
                Thread.sleep(100);
            }
            // What each request answers does not matter here, only that the code serving it ran.
            ApiClient api = new ApiClient(new ApiEndpoint.UnixSocket(socket), null);
            api.send("GET", "/nodes");
            api.send("POST", "/vms", "{\"name\": \"training\"}");
            api.send("PUT", "/vms/training/boot-source", "{\"kernel_image_path\": \"" + kernel.toAbsolutePath() + "\"}");
            api.send("PUT", "/vms/training/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 16}");
            boolean started = api.send("PUT", "/vms/training/actions", "{\"action_type\": \"InstanceStart\"}").status() / 100 == 2;
            for (int i = 0; started && i < 300 && !printed(api.send("GET", "/vms/training/console")); i++) Thread.sleep(100);
            api.send("GET", "/vms");
            node.leave.run(); // as on SIGTERM: the VM is snapshotted and the node leaves its cluster of one
            return 0;
        } finally {
            ApiConfiguredRun.deleteTree(dir);
        }
    }

    /** Whether a console read ({@code {"text": ..., "total": ...}}) holds anything the guest printed. */
    private static boolean printed(ApiClient.Response console) {
        try {
            return console.status() == 200 && !JSON.readTree(console.body()).path("text").asText().isEmpty();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            return false;
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
}
