package io.actorvm.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP side of the control API, against a stand-in for the VM actor (a unit test of this class). */
class ControlApiTest {
    /** pekko-http closes a connection that carries no bytes this long; a snapshot may take longer. */
    final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("pekko.http.server.idle-timeout = 2s"));
    final AtomicInteger snapshotsTaken = new AtomicInteger();
    static final ObjectMapper JSON = new ObjectMapper();
    /** Blocking client reads and the stand-in's delays, each on a thread of its own. */
    static final java.util.concurrent.Executor THREADS = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
    @TempDir
    Path dir;

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
    }

    /** Answers status, and takes each snapshot in {@code snapshotMillis}. */
    ActorRef<Vm.Command> standIn(long snapshotMillis) {
        return kit.spawn(Behaviors.receive(Vm.Command.class)
                .onMessage(Vm.GetStatus.class, g -> {
                    g.replyTo().tell(new Vm.Status("web-1", Vm.State.RUNNING, null));
                    return Behaviors.same();
                })
                .onMessage(Vm.GetStats.class, g -> {
                    g.replyTo().tell(new Vm.Stats(Map.of("exits", 42L, "largest_coalesced_batch", 7L), List.of(new DeviceActor.Metrics(
                            "serial@0x3f8", new Serial16550.Metrics(1, 2, 3, 4), 0, 5, 6, 8, 2_500_000_000L, 2)),
                            new Vm.Lifecycle(3, 1, 1_500_000_000L, 250_000_000L, 49_000_000L)));
                    return Behaviors.same();
                })
                .onMessage(Vm.Pause.class, c -> refuse(c.replyTo()))
                .onMessage(Vm.Resume.class, c -> refuse(c.replyTo()))
                .onMessage(Vm.Stop.class, c -> refuse(c.replyTo()))
                .onMessage(Vm.TakeSnapshot.class, t -> {
                    int n = snapshotsTaken.incrementAndGet();
                    CompletableFuture.delayedExecutor(snapshotMillis, TimeUnit.MILLISECONDS, THREADS).execute(() -> t.replyTo().tell(
                            StatusReply.success(new Vm.SnapshotInfo("snap-" + n, null, t.full(), 10, 4096, snapshotMillis))));
                    return Behaviors.same();
                })
                .build());
    }

    final AtomicInteger lifecycleCommands = new AtomicInteger();

    Behavior<Vm.Command> refuse(ActorRef<StatusReply<org.apache.pekko.Done>> replyTo) {
        lifecycleCommands.incrementAndGet();
        replyTo.tell(StatusReply.error("the stand-in VM refuses lifecycle commands"));
        return Behaviors.same();
    }

    record Reply(int status, String contentType, String body) {
        JsonNode json() throws IOException {
            return JSON.readTree(body);
        }
    }

    /**
     * Writes {@code request} as is on a new connection to the socket and reads the answer until the
     * server closes the connection; a server still waiting for more after {@code wait} is an
     * answer of status 0 (and the connection is dropped).
     */
    static Reply raw(Path socket, byte[] request, Duration wait) throws Exception {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try (ch) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ByteArrayOutputStream in = new ByteArrayOutputStream();
            CompletableFuture<Void> read = CompletableFuture.runAsync(() -> { // not the common pool: it may have one thread
                try {
                    ByteBuffer out = ByteBuffer.wrap(request);
                    while (out.hasRemaining()) ch.write(out);
                } catch (IOException refused) {
                    // the server answered (e.g. 413) and closed before taking the whole request: its answer is still there to read
                }
                try {
                    ByteBuffer buf = ByteBuffer.allocate(8192);
                    while (!complete(in) && ch.read(buf.clear()) >= 0) {
                        synchronized (in) {
                            in.write(buf.array(), 0, buf.position());
                        }
                    }
                } catch (IOException reset) {
                    // the server may reset a connection it refused; what arrived before counts
                }
            }, THREADS);
            try {
                read.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException stillWaiting) {
                return new Reply(0, "", "");
            }
            String text;
            synchronized (in) {
                text = in.toString(StandardCharsets.UTF_8);
            }
            int end = text.indexOf("\r\n\r\n");
            if (!text.startsWith("HTTP/1.1 ") || end < 0) return new Reply(0, "", text);
            String head = text.substring(0, end).toLowerCase();
            String type = head.lines().filter(l -> l.startsWith("content-type:")).map(l -> l.substring(13).strip()).findFirst().orElse("");
            return new Reply(Integer.parseInt(text.substring(9, 12)), type, text.substring(end + 4));
        }
    }

    /** A whole response by its Content-Length (what pekko-http sends for our strict replies). */
    static boolean complete(ByteArrayOutputStream in) {
        String text;
        synchronized (in) {
            text = in.toString(StandardCharsets.ISO_8859_1);
        }
        int end = text.indexOf("\r\n\r\n");
        if (end < 0) return false;
        var m = java.util.regex.Pattern.compile("(?im)^content-length:\\s*(\\d+)").matcher(text.substring(0, end));
        return m.find() && text.length() - end - 4 >= Long.parseLong(m.group(1));
    }

    static Reply request(Path socket, String method, String target, String body) throws Exception {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        return raw(socket, (method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                + b.length + "\r\nConnection: close\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(20));
    }

    @Test
    void aSnapshotSlowerThanTheIdleTimeoutStillGetsItsReply() throws Exception {
        ControlApi.Binding api = ControlApi.bind(kit.system(), standIn(4_000), ApiEndpoint.tcp("tcp:127.0.0.1:0", false, null));
        HttpResponse<String> reply = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://" + api.address().substring(4) + "/snapshot/create?type=full"))
                .PUT(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, reply.statusCode(), reply.body());
        assertTrue(reply.body().contains("snap-1"), reply.body());
        api.close();
    }

    @Test
    void theUnixSocketIsPrivateReplacesAStaleOneAndRefusesALiveOne() throws Exception {
        Path socket = dir.resolve("api.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(socket)); // a VMM that died leaves its socket file
        }
        ControlApi.Binding api = ControlApi.bind(kit.system(), standIn(10), new ApiEndpoint.UnixSocket(socket));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        Reply status = request(socket, "GET", "/vm", "");
        assertEquals(200, status.status(), status.body());
        assertEquals("running", status.json().get("state").asText());

        IOException inUse = assertThrows(IOException.class,
                () -> ControlApi.bind(kit.system(), standIn(10), new ApiEndpoint.UnixSocket(socket)));
        assertEquals(socket + " is in use by a running process", inUse.getMessage());
        Path file = Files.writeString(dir.resolve("not-a-socket"), "x");
        assertEquals(file + " exists and is not a socket", assertThrows(IOException.class,
                () -> ControlApi.bind(kit.system(), standIn(10), new ApiEndpoint.UnixSocket(file))).getMessage());
        api.close();
        assertFalse(Files.exists(socket), "closing removes the socket file");
    }

    @Test
    void everyRouteOfTheOpenApiDocumentAnswersAsItSays() throws Exception {
        Path socket = dir.resolve("api.sock");
        ControlApi.Binding api = ControlApi.bind(kit.system(), standIn(10), new ApiEndpoint.UnixSocket(socket));
        Reply doc = request(socket, "GET", "/openapi.json", "");
        assertEquals(200, doc.status(), doc.body());
        assertTrue(doc.contentType().startsWith("application/json"), doc.contentType());
        JsonNode openapi = doc.json();
        assertEquals("3.1.0", openapi.get("openapi").asText());
        int checked = 0;
        for (var path = openapi.get("paths").fields(); path.hasNext(); ) {
            var p = path.next();
            for (var op = p.getValue().fields(); op.hasNext(); ) {
                var o = op.next();
                String method = o.getKey().toUpperCase(), target = p.getKey().replaceAll("\\{[a-z_]+}", "snapshot-1");
                Reply r = request(socket, method, target, "");
                assertTrue(o.getValue().get("responses").has(Integer.toString(r.status())),
                        method + " " + target + " answered " + r.status() + ", which the document does not list: " + r.body());
                checked++;
            }
        }
        assertEquals(32, checked, "routes in the document");
        // What the document does not list is not there.
        assertEquals(404, request(socket, "GET", "/vm/reboot", "").status());
        assertEquals(405, request(socket, "DELETE", "/vm", "").status());
        api.close();
    }

    @Test
    void debugRoutesNeedAPausedVmAndNameWhatIsWrongWithARequest() throws Exception {
        Path socket = dir.resolve("api.sock");
        ControlApi.Binding api = ControlApi.bind(kit.system(), standIn(10), new ApiEndpoint.UnixSocket(socket));
        // The stand-in VM runs: registers and memory are only read, and steps only taken, while it is paused.
        for (Reply r : List.of(request(socket, "GET", "/debug/vcpus/0/registers", ""),
                request(socket, "GET", "/debug/memory?address=0x1000&length=16", ""),
                request(socket, "PUT", "/debug/step", "{\"count\": 3}"))) {
            assertEquals(409, r.status(), r.body());
            assertEquals("VM web-1 is running: pause it first (PUT /vm/pause)", r.json().get("fault_message").asText());
        }
        Reply badVcpu = request(socket, "GET", "/debug/vcpus/x/registers", "");
        assertEquals(400, badVcpu.status(), badVcpu.body());
        assertEquals("the vCPU must be between 0 and 1023, not 'x'", badVcpu.json().get("fault_message").asText());
        for (String[] bad : new String[][] {
                {"{\"count\": \"many\"}", "malformed step request"},
                {"{\"steps\": 3}", "malformed step request"},
                {"[1]", "malformed step request"},
                {"{\"until\": \"0xzz\"}", "until must be an address such as 0x1000 or 4096, not '0xzz'"},
                {"{\"timeout_ms\": 0}", "timeout_ms must be between 1 and 300000"},
                {"{\"timeout_ms\": 300001}", "timeout_ms must be between 1 and 300000"}}) {
            Reply r = request(socket, "PUT", "/debug/step", bad[0]);
            assertEquals(400, r.status(), bad[0] + " -> " + r.body());
            assertTrue(r.json().get("fault_message").asText().startsWith(bad[1]), bad[0] + " -> " + r.body());
        }
        api.close();
    }

    @Test
    void metricsArePrometheusText() throws Exception {
        Path socket = dir.resolve("api.sock");
        ControlApi.Binding api = ControlApi.bind(kit.system(), standIn(10), new ApiEndpoint.UnixSocket(socket));
        Reply metrics = request(socket, "GET", "/metrics", "");
        assertEquals(200, metrics.status(), metrics.body());
        assertTrue(metrics.contentType().startsWith("text/plain; version=0.0.4"), metrics.contentType());
        List<String> lines = metrics.body().lines().toList();
        assertTrue(lines.contains("actorvm_io_exits_total{vm=\"web-1\"} 42"), metrics.body());
        assertTrue(lines.contains("actorvm_io_largest_coalesced_batch{vm=\"web-1\"} 7"), metrics.body());
        assertTrue(lines.contains("actorvm_vm_state{vm=\"web-1\",state=\"running\"} 1"), metrics.body());
        assertTrue(lines.contains("actorvm_device_backlog_stalls_total{vm=\"web-1\",device=\"serial@0x3f8\"} 8"), metrics.body());
        assertTrue(lines.contains("actorvm_device_backlog_stalled_seconds_total{vm=\"web-1\",device=\"serial@0x3f8\"} 2.5"), metrics.body());
        assertTrue(lines.contains("actorvm_device_backlog_depth{vm=\"web-1\",device=\"serial@0x3f8\"} 2"), metrics.body());
        assertTrue(lines.contains("actorvm_snapshots_total{vm=\"web-1\"} 3"), metrics.body());
        assertTrue(lines.contains("actorvm_snapshot_failures_total{vm=\"web-1\"} 1"), metrics.body());
        assertTrue(lines.contains("actorvm_snapshot_seconds_total{vm=\"web-1\"} 1.5"), metrics.body());
        assertTrue(lines.contains("actorvm_last_snapshot_seconds{vm=\"web-1\"} 0.25"), metrics.body());
        assertTrue(lines.contains("actorvm_restore_seconds{vm=\"web-1\"} 0.049"), metrics.body());
        // The exposition format: each family once, its HELP and TYPE first, then its samples together.
        java.util.Set<String> seen = new java.util.HashSet<>();
        String current = null;
        for (String line : lines) {
            if (line.startsWith("# TYPE ")) {
                current = line.split(" ")[2];
                assertTrue(seen.add(current), "family " + current + " appears twice");
            } else if (!line.startsWith("#")) {
                assertTrue(line.matches("[a-zA-Z_:][a-zA-Z0-9_:]*\\{[^}]*\\} -?[0-9.eE+-]+"), line);
                assertEquals(current, line.substring(0, line.indexOf('{')), line);
            }
        }
        api.close();
    }

    @Test
    void aSnapshotIsAnOperationToPollAndARetryJoinsTheRunningOne() throws Exception {
        Path socket = dir.resolve("api.sock");
        ControlApi.Binding api = ControlApi.bind(kit.system(), standIn(1_500), new ApiEndpoint.UnixSocket(socket));
        Reply started = request(socket, "POST", "/operations/snapshot", "{\"type\": \"full\"}");
        assertEquals(202, started.status(), started.body());
        String id = started.json().get("id").asText();
        assertEquals("running", started.json().get("state").asText());
        Reply retry = request(socket, "POST", "/operations/snapshot?type=full", "");
        assertEquals(id, retry.json().get("id").asText(), "a retry joins the running snapshot");
        Reply other = request(socket, "POST", "/operations/snapshot", "{\"type\": \"incremental\"}");
        assertEquals(409, other.status(), other.body());
        assertTrue(other.json().get("fault_message").asText().contains(id), other.body());
        Reply sync = request(socket, "PUT", "/snapshot/create", "{\"type\":\"full\"}");
        assertEquals(200, sync.status(), sync.body());
        assertEquals("snap-1", sync.json().get("id").asText(), "the waiting form joined it too");

        JsonNode done = request(socket, "GET", "/operations/" + id, "").json();
        assertEquals("succeeded", done.get("state").asText());
        assertEquals("snap-1", done.get("result").get("id").asText());
        assertEquals(1, snapshotsTaken.get(), "one snapshot for four requests");
        assertEquals(404, request(socket, "GET", "/operations/snapshot-99", "").status());
        api.close();
    }

    @Test
    void overTcpTheHostMustBeLoopbackAndATokenIsABearerToken() throws Exception {
        ControlApi.Binding open = ControlApi.bind(kit.system(), standIn(10), ApiEndpoint.tcp("tcp:127.0.0.1:0", false, null));
        String base = "http://" + open.address().substring(4);
        HttpClient http = HttpClient.newHttpClient();
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(base + "/vm")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        // What a page on evil.example gets after pointing its name at 127.0.0.1 (DNS rebinding).
        Reply rebound = rawTcp(open.address(), "GET /vm HTTP/1.1\r\nHost: evil.example:8080\r\nConnection: close\r\n\r\n");
        assertEquals(403, rebound.status(), rebound.body());
        assertTrue(rebound.body().contains("fault_message"));
        open.close();

        ControlApi.Binding locked = ControlApi.bind(kit.system(), standIn(10), ApiEndpoint.tcp("tcp:127.0.0.1:0", false, "s3cret"));
        base = "http://" + locked.address().substring(4);
        HttpResponse<String> none = http.send(HttpRequest.newBuilder(URI.create(base + "/vm")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, none.statusCode());
        assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(base + "/vm")).header("Authorization", "Bearer wrong").build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(base + "/vm")).header("Authorization", "Bearer s3cret").build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        locked.close();

        assertEquals("--api tcp:0.0.0.0:8080 is not a loopback address: add --api-allow-remote (clients then need the bearer token of --api-token-file)",
                assertThrows(IllegalArgumentException.class, () -> ApiEndpoint.tcp("tcp:0.0.0.0:8080", false, null)).getMessage());
        assertEquals("--api-allow-remote needs a bearer token: --api-token-file FILE",
                assertThrows(IllegalArgumentException.class, () -> ApiEndpoint.tcp("tcp:0.0.0.0:8080", true, null)).getMessage());
    }

    static Reply rawTcp(String address, String request) throws IOException {
        String[] hp = address.substring(4).split(":");
        try (java.net.Socket s = new java.net.Socket(hp[0], Integer.parseInt(hp[1]))) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            String text = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            return new Reply(Integer.parseInt(text.substring(9, 12)), "", text.substring(end + 4));
        }
    }

    /**
     * A few hundred malformed and hostile requests: each gets a 4xx with a JSON fault_message (or,
     * for bytes that are no HTTP at all, a 400 or a closed connection), and the API serves after.
     */
    @Test
    void malformedAndHostileRequestsGetJsonFaultsAndTheApiGoesOn() throws Exception {
        Path socket = dir.resolve("api.sock");
        ControlApi.Binding api = ControlApi.bind(kit.system(), standIn(10), new ApiEndpoint.UnixSocket(socket));
        Random random = new Random(42);
        List<String> bodies = List.of("{", "{\"type\": 5}", "{\"type\": \"sideways\"}", "{\"type\": [1,2]}", "[]", "null",
                "{\"type\": \"full\", \"extra\": 1}", "\u0000\u0001\u0002", "{\"type\": \"full\"" + "}".repeat(1000),
                "{\"type\": \"" + "x".repeat(60_000) + "\"}", "{".repeat(10_000));
        List<String> paths = List.of("/vm/../vm", "/vm/%2e%2e/vm/stop", "//vm", "/vm/stop/", "/VM", "/snapshot", "/snapshot/create/x",
                "/operations/", "/operations/%00", "/operations/../../etc/passwd", "/" + "a".repeat(5000), "/vm?x=" + "%".repeat(30),
                "/nothing", "/vm;stop", "/operations/snapshot-1/../../vm/stop");
        List<String> methods = List.of("DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW", "G E T");
        int sent = 0, faults = 0;
        for (String body : bodies) {
            for (String target : List.of("/snapshot/create", "/operations/snapshot")) {
                Reply r = request(socket, target.equals("/snapshot/create") ? "PUT" : "POST", target, body);
                assertFault(r, body);
                sent++;
                faults++;
            }
        }
        for (String path : paths) {
            for (String method : List.of("GET", "PUT", "POST")) {
                Reply r = request(socket, method, path, "");
                sent++;
                if (r.status() >= 400) {
                    assertFault(r, method + " " + path);
                    faults++;
                } else {
                    fail(method + " " + path + " was served: " + r.status() + " " + r.body());
                }
            }
        }
        for (String method : methods) {
            for (String path : List.of("/vm", "/snapshot/create", "/operations/snapshot")) {
                Reply r = request(socket, method, path, "");
                sent++;
                if (r.status() != 0) {
                    assertFault(r, method + " " + path);
                    faults++;
                }
            }
        }
        // A body larger than the limit, declared and chunked.
        assertEquals(413, request(socket, "PUT", "/snapshot/create", "{\"type\":\"" + "y".repeat(200_000) + "\"}").status());
        sent++;
        // Bytes that are no HTTP, broken headers, lies about lengths, header floods.
        List<byte[]> garbage = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            byte[] b = new byte[1 + random.nextInt(2000)];
            random.nextBytes(b);
            garbage.add((new String(b, StandardCharsets.ISO_8859_1) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        }
        garbage.add("GET /vm HTTP/1.1\r\nHost: localhost\r\nContent-Length: -5\r\n\r\n".getBytes());
        garbage.add("GET /vm HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999\r\n\r\n".getBytes());
        garbage.add("GET /vm HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n".getBytes());
        garbage.add(("GET /vm HTTP/1.1\r\n" + "X-A: b\r\n".repeat(5000) + "\r\n").getBytes());
        garbage.add(("GET /vm HTTP/1.1\r\nHost: " + "h".repeat(100_000) + "\r\n\r\n").getBytes());
        garbage.add("GET /vm HTTP/9.9\r\nHost: localhost\r\n\r\n".getBytes());
        garbage.add("\r\n\r\n\r\n".getBytes());
        for (byte[] g : garbage) {
            Reply r = raw(socket, g, Duration.ofMillis(500));
            sent++;
            boolean validHead = new String(g, StandardCharsets.ISO_8859_1).startsWith("GET /vm HTTP/1.1\r\nHost: localhost\r\n");
            if (r.status() != 0 && !(validHead && r.status() == 200)) { // a valid head with a broken body nobody reads is served
                assertTrue(r.status() >= 400 && r.status() < 600, r.status() + " for garbage "
                        + abbreviate(new String(g, StandardCharsets.ISO_8859_1)));
                if (r.status() < 500 && !r.body().isEmpty()) {
                    assertFault(r, "garbage");
                    faults++;
                }
            }
        }
        System.out.printf("control API: %d hostile requests, %d answered with a JSON fault%n", sent, faults);
        assertTrue(sent >= 200, "a few hundred: " + sent);
        Reply after = request(socket, "GET", "/vm", "");
        assertEquals(200, after.status(), "and the API still serves");
        assertEquals(0, snapshotsTaken.get(), "no hostile request started a snapshot");
        assertEquals(0, lifecycleCommands.get(), "no path trick reached pause, resume or stop");
        api.close();
    }

    static void assertFault(Reply r, String what) throws IOException {
        assertTrue(r.status() >= 400 && r.status() < 500, r.status() + " for " + abbreviate(what) + ": " + abbreviate(r.body()));
        assertEquals("application/json", r.contentType(), "for " + abbreviate(what) + ": " + abbreviate(r.body()));
        String message = r.json().get("fault_message").asText();
        assertFalse(message.isBlank() || message.contains("\n"), message);
    }

    static String abbreviate(String s) {
        return s.length() > 120 ? s.substring(0, 120) + "…" : s;
    }

    static void fail(String message) {
        org.junit.jupiter.api.Assertions.fail(message);
    }
}
