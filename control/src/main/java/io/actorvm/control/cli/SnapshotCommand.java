package io.actorvm.control.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.actorvm.control.api.ApiEndpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.concurrent.Callable;

/**
 * {@code actorvm snapshot --api-sock PATH}: snapshots a running VM; prints the id on the last line.
 * The snapshot is an operation the command starts and then polls, so no connection has to stay
 * open as long as a large snapshot takes.
 */
@Command(name = "snapshot", mixinStandardHelpOptions = true,
        description = "Take a snapshot of a VM run with --api-sock (or --api) and --data-dir; prints the snapshot id on its last line.")
final class SnapshotCommand implements Callable<Integer> {
    @Mixin
    ApiOptions api;

    @Option(names = "--full", description = "a full snapshot even if there is a previous one to be incremental on")
    boolean full;

    private static final ObjectMapper JSON = new ObjectMapper();
    static final long POLL_MILLIS = 200, GIVE_UP_MILLIS = 30 * 60_000;

    @Override
    public Integer call() throws Exception {
        ApiEndpoint endpoint;
        ApiClient client;
        try {
            endpoint = api.endpoint();
            if (endpoint == null) throw new IllegalArgumentException("say where the VM's API is: --api-sock PATH or --api tcp:HOST:PORT");
            client = new ApiClient(endpoint, api.token());
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        JsonNode op;
        try {
            ApiClient.Response r = client.send("POST", "/operations/snapshot" + (full ? "?type=full" : ""));
            op = json(r.body());
            if (r.status() != 202) {
                System.err.println("actorvm: " + op.path("fault_message").asText("HTTP " + r.status()));
                return 1;
            }
            long deadline = System.currentTimeMillis() + GIVE_UP_MILLIS;
            // The operation says only whether it runs: the bar shows the time it has taken so far.
            try (TerminalProgress progress = TerminalProgress.open("snapshot", "actorvm snapshot: ")) {
                while ("running".equals(op.path("state").asText()) && System.currentTimeMillis() < deadline) {
                    Thread.sleep(POLL_MILLIS);
                    op = json(client.send("GET", "/operations/" + op.path("id").asText()).body());
                }
            }
        } catch (IOException e) {
            System.err.println("actorvm: cannot reach the control API at " + endpoint + ": " + (e.getMessage() == null ? e : e.getMessage()));
            return Main.USAGE_ERROR;
        }
        if (!"succeeded".equals(op.path("state").asText())) {
            System.err.println("actorvm: " + op.path("faultMessage").asText(op.path("fault_message").asText("snapshot " + op.path("state").asText())));
            return 1;
        }
        JsonNode s = op.path("result");
        String parent = s.path("parentId").asText("");
        System.out.println((s.path("full").asBoolean() ? "full" : "incremental") + " snapshot: " + s.path("pages").asLong() + " pages, "
                + s.path("bytesWritten").asLong() + " bytes written, " + s.path("millis").asLong() + " ms"
                + (parent.isEmpty() || "null".equals(parent) ? "" : ", parent " + parent));
        System.out.println(s.path("id").asText());
        return 0;
    }

    private static JsonNode json(String body) throws IOException {
        try {
            return JSON.readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException("the API answered something that is not JSON: " + body.lines().findFirst().orElse(""));
        }
    }
}
