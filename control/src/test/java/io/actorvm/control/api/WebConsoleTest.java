package io.actorvm.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.journal.Journal;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web console's routes on {@code serve}'s TCP API, against a stand-in VM that echoes console
 * input as output and a real (H2) journal: the page and xterm.js, the console WebSocket both ways,
 * snapshots and restore requests, and cross-origin requests refused. ({@code WebConsoleBrowserTest}
 * runs the page in Chromium against real VMs.)
 */
class WebConsoleTest {
    @TempDir
    Path dir;
    ActorTestKit kit;
    String base;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        kit = ActorTestKit.create("web", Journal.openData(dir.resolve("data")).pekkoConfig().withFallback(ConfigFactory.load()));
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path kernel = Files.writeString(dir.resolve("kernel"), "x");
        VmDirectory vms = new VmDirectory((name, console) -> MicroVm.unconfigured(name, dir, (behavior, config, checkKernel) ->
                CompletableFuture.completedFuture(echoing(name, console))));
        ServeApi.bind(kit.system(), vms, new ApiEndpoint.Tcp("127.0.0.1", port, null));
        base = "http://127.0.0.1:" + port;
        assertEquals(201, send("POST", "/vms", "{\"name\": \"one\"}").statusCode());
        assertEquals(204, send("PUT", "/vms/one/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}").statusCode());
        assertEquals(204, send("PUT", "/vms/one/actions", "{\"action_type\": \"InstanceStart\"}").statusCode());
    }

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
    }

    ActorRef<Vm.Command> echoing(String name, ConsoleTail console) {
        return ServeApiTest.echoing(kit, name, console, new java.util.concurrent.ConcurrentHashMap<>());
    }

    HttpResponse<String> send(String method, String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) b.headers(headers);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void thePageAndItsTerminalAreServed() throws Exception {
        HttpResponse<String> page = send("GET", "/ui/", null);
        assertEquals(200, page.statusCode());
        assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"), page.headers().toString());
        assertTrue(page.body().contains("xterm.js") && page.body().contains("app.js"), page.body());
        HttpResponse<String> xterm = send("GET", "/ui/xterm.js", null);
        assertEquals(200, xterm.statusCode());
        assertTrue(xterm.body().contains("Terminal"), "xterm.js from its WebJar");
        assertEquals(200, send("GET", "/ui/xterm.css", null).statusCode());
        assertEquals(200, send("GET", "/ui/app.js", null).statusCode());
        assertEquals(404, send("GET", "/ui/other.js", null).statusCode());

        JsonNode list = new ObjectMapper().readTree(send("GET", "/vms", null).body());
        JsonNode one = list.get(0);
        assertEquals("running", one.get("state").asText(), list.toString());
        assertEquals(1, one.get("vcpus").asInt());
        assertEquals(128, one.get("mem_mib").asInt());
        assertTrue(one.has("uptime_s") && one.has("io_bytes"), list.toString());
        assertEquals(7, one.get("exits").asLong(), "the VM's exit counter");
    }

    @Test
    void theConsoleSocketCarriesOutputAndInput() throws Exception {
        LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
        WebSocket ws = http.newWebSocketBuilder().buildAsync(URI.create(base.replace("http", "ws") + "/vms/one/console/ws"),
                new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
                        byte[] b = new byte[data.remaining()];
                        data.get(b);
                        received.add(new String(b, StandardCharsets.UTF_8));
                        webSocket.request(1);
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        ws.sendText("x".repeat(WebConsole.MAX_INPUT + 1), true).get(10, TimeUnit.SECONDS); // too large: dropped
        ws.sendBinary(ByteBuffer.wrap(new byte[] {1, 2, 3}), true).get(10, TimeUnit.SECONDS); // not typing: dropped
        ws.sendText("hi", true).get(10, TimeUnit.SECONDS);
        StringBuilder seen = new StringBuilder();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!seen.toString().contains("hi") && System.nanoTime() < deadline) {
            String s = received.poll(100, TimeUnit.MILLISECONDS);
            if (s != null) seen.append(s);
        }
        assertEquals("hi", seen.toString(), "typed input reached the VM and its output came back");
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);

        // A second client gets what the console holds from its start.
        LinkedBlockingQueue<String> late = new LinkedBlockingQueue<>();
        http.newWebSocketBuilder().buildAsync(URI.create(base.replace("http", "ws") + "/vms/one/console/ws"), new WebSocket.Listener() {
            @Override
            public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
                late.add(StandardCharsets.UTF_8.decode(data).toString());
                webSocket.request(1);
                return null;
            }
        }).get(10, TimeUnit.SECONDS);
        assertEquals("hi", late.poll(10, TimeUnit.SECONDS));
    }

    @Test
    void snapshotsComeFromTheJournalAndARestoreNamesOneOfThem() throws Exception {
        HttpResponse<String> snapshots = send("GET", "/vms/one/snapshots", null);
        assertEquals(200, snapshots.statusCode(), snapshots.body());
        assertEquals("[]", snapshots.body().strip(), "a VM that took none");
        HttpResponse<String> unknown = send("PUT", "/vms/one/restore", "{\"snapshot_id\": \"20990101T000000Z-00000\"}");
        assertEquals(400, unknown.statusCode());
        assertTrue(unknown.body().contains("has no snapshot 20990101T000000Z-00000"), unknown.body());
        assertEquals(400, send("PUT", "/vms/one/restore", "{\"snapshot\": \"x\"}").statusCode());
        assertEquals(400, send("PUT", "/vms/one/restore", "").statusCode());
        assertEquals(404, send("GET", "/vms/nobody/snapshots", null).statusCode());
    }

    @Test
    void anotherOriginIsRefusedAndTheConsolesOwnIsNot() throws Exception {
        HttpResponse<String> foreign = send("POST", "/vms", "{\"name\": \"two\"}", "Origin", "http://evil.example");
        assertEquals(403, foreign.statusCode(), foreign.body());
        assertTrue(foreign.body().contains("another origin"), foreign.body());
        assertEquals(201, send("POST", "/vms", "{\"name\": \"two\"}", "Origin", base).statusCode());
        CompletableFuture<WebSocket> ws = http.newWebSocketBuilder().header("Origin", "http://evil.example")
                .buildAsync(URI.create(base.replace("http", "ws") + "/vms/one/console/ws"), new WebSocket.Listener() {});
        Throwable refused = null;
        try {
            ws.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            refused = e.getCause();
        }
        assertNotNull(refused, "a WebSocket from another origin is refused");
    }

    /**
     * serve's document: its own routes answer as it says (over TCP, with VM "one" for {name});
     * every route of the single-VM document is in it under /vms/{name}, and some of those answer.
     */
    @Test
    void serveDescribesItsWholeApiInOpenApi() throws Exception {
        HttpResponse<String> doc = send("GET", "/openapi.json", null);
        assertEquals(200, doc.statusCode());
        JsonNode openapi = new ObjectMapper().readTree(doc.body());
        assertEquals("3.1.0", openapi.get("openapi").asText());
        JsonNode single = new ObjectMapper().readTree(ControlApi.OPENAPI);
        single.get("paths").fieldNames().forEachRemaining(p -> {
            if (!p.equals("/openapi.json")) assertTrue(openapi.get("paths").has("/vms/{name}" + p), "/vms/{name}" + p + " is described");
        });
        int checked = 0;
        for (var path = openapi.get("paths").fields(); path.hasNext(); ) {
            var p = path.next();
            if (p.getKey().startsWith("/vms/{name}/") && single.get("paths").has(p.getKey().substring("/vms/{name}".length()))) continue;
            for (var op = p.getValue().fields(); op.hasNext(); ) {
                var o = op.next();
                String method = o.getKey().toUpperCase(), target = p.getKey().replace("{name}", p.getKey().equals("/vms/{name}") ? "gone" : "one");
                if (target.equals("/vms/gone")) assertEquals(201, send("POST", "/vms", "{\"name\": \"gone\"}").statusCode());
                HttpResponse<String> r = send(method, target, method.equals("GET") || method.equals("DELETE") ? null : "");
                assertTrue(o.getValue().get("responses").has(Integer.toString(r.statusCode())),
                        method + " " + target + " answered " + r.statusCode() + ", which the document does not list: " + r.body());
                checked++;
            }
        }
        assertEquals(12, checked, "serve's own routes");
        for (String route : new String[] {"/vms/one/vm", "/vms/one/machine-config", "/vms/one/", "/vms/one/vm/config"}) {
            HttpResponse<String> r = send("GET", route, null);
            String template = "/vms/{name}" + route.substring("/vms/one".length());
            assertTrue(openapi.get("paths").get(template).get("get").get("responses").has(Integer.toString(r.statusCode())),
                    route + " answered " + r.statusCode() + ": " + r.body());
        }
    }

    /** {@code run --web-console}: the page and serve's routes for its one VM, beside the single-VM API at the root. */
    @Test
    void aRunProcessServesItsOneVmWithTheConsole() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ConsoleTail tail = new ConsoleTail();
        tail.append("booted\n".getBytes(StandardCharsets.UTF_8));
        MicroVm instance = MicroVm.running(echoing("solo", tail), null);
        ServeApi.bindWithWebConsole(kit.system(), "solo", instance, tail, new ApiEndpoint.Tcp("127.0.0.1", port, null));
        base = "http://127.0.0.1:" + port;
        assertEquals(200, send("GET", "/ui/", null).statusCode());
        JsonNode list = new ObjectMapper().readTree(send("GET", "/vms", null).body());
        assertEquals(1, list.size(), list.toString());
        assertEquals("solo", list.get(0).get("name").asText());
        assertEquals("running", list.get(0).get("state").asText());
        HttpResponse<String> another = send("POST", "/vms", "{\"name\": \"two\"}");
        assertEquals(409, another.statusCode());
        assertTrue(another.body().contains("runs one VM"), another.body());
        assertEquals("booted\n", new ObjectMapper().readTree(send("GET", "/vms/solo/console", null).body()).get("text").asText());
        assertEquals(200, send("GET", "/vm", null).statusCode(), "the single-VM API at the root");
        assertEquals(200, send("GET", "/vms/solo/vm", null).statusCode());
        HttpResponse<String> restore = send("PUT", "/vms/solo/restore", "{\"snapshot_id\": \"x\"}");
        assertEquals(400, restore.statusCode(), restore.body());
    }
}
