package io.actorvm.control.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code actorvm snapshot --api HOST:PORT}: snapshots a running VM; prints the id on the last line. */
@Command(name = "snapshot", mixinStandardHelpOptions = true,
        description = "Take a snapshot of a VM run with --api and --data-dir; prints the snapshot id on its last line.")
final class SnapshotCommand implements Callable<Integer> {
    @Option(names = "--api", required = true, paramLabel = "HOST:PORT", description = "the VM's control API")
    String api;

    @Option(names = "--full", description = "a full snapshot even if there is a previous one to be incremental on")
    boolean full;

    private static final Pattern FIELD = Pattern.compile("\"(\\w+)\"\\s*:\\s*(\"([^\"]*)\"|[-\\w.]+)");

    @Override
    public Integer call() throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> r;
        try {
            r = http.send(HttpRequest.newBuilder(URI.create("http://" + api + "/snapshot/create" + (full ? "?type=full" : "")))
                    .PUT(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofMinutes(10)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("actorvm: cannot reach the control API at " + api + ": " + (e.getMessage() == null ? e : e.getMessage()));
            return Main.USAGE_ERROR;
        }
        java.util.Map<String, String> fields = new java.util.LinkedHashMap<>();
        Matcher m = FIELD.matcher(r.body());
        while (m.find()) fields.put(m.group(1), m.group(3) != null ? m.group(3) : m.group(2));
        if (r.statusCode() != 200) {
            System.err.println("actorvm: " + fields.getOrDefault("fault_message", "HTTP " + r.statusCode()));
            return 1;
        }
        System.out.println((Boolean.parseBoolean(fields.get("full")) ? "full" : "incremental") + " snapshot: "
                + fields.get("pages") + " pages, " + fields.get("bytesWritten") + " bytes written, " + fields.get("millis") + " ms"
                + (fields.getOrDefault("parentId", "").isEmpty() || "null".equals(fields.get("parentId")) ? "" : ", parent " + fields.get("parentId")));
        System.out.println(fields.get("id"));
        return 0;
    }
}
