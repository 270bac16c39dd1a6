package io.actorvm.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import static io.actorvm.control.api.ControlApiTest.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code serve}'s API against instances whose launcher is a stand-in that echoes console input
 * back as output (a unit test of the routing by name; {@code ServeGuestTest} runs real VMs).
 */
class ServeApiTest {
    final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("pekko.http.server.idle-timeout = 5s"));
    @TempDir
    Path dir;
    final Map<String, Boolean> stopped = new ConcurrentHashMap<>();

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
    }

    ActorRef<Vm.Command> echoing(String name, ConsoleTail console) {
        return echoing(kit, name, console, stopped);
    }

    /** A running VM that reports 7 exits, writes console input back as output and notes its stop in {@code stopped}. */
    static ActorRef<Vm.Command> echoing(ActorTestKit kit, String name, ConsoleTail console, Map<String, Boolean> stopped) {
        return kit.spawn(Behaviors.receive(Vm.Command.class)
                .onMessage(Vm.GetStatus.class, g -> {
                    g.replyTo().tell(new Vm.Status(name, Vm.State.RUNNING, null));
                    return Behaviors.same();
                })
                .onMessage(Vm.GetStats.class, g -> {
                    g.replyTo().tell(new Vm.Stats(Map.of("exits", 7L), List.of()));
                    return Behaviors.same();
                })
                .onMessage(Vm.ConsoleInput.class, in -> {
                    console.append(in.data());
                    return Behaviors.same();
                })
                .onMessage(Vm.Stop.class, s -> {
                    stopped.put(name, true);
                    s.replyTo().tell(StatusReply.ack());
                    return Behaviors.stopped();
                })
                .build());
    }

    @Test
    void twentyVmsByNameEachWithItsOwnConfigurationAndConsole() throws Exception {
        Path socket = dir.resolve("serve.sock");
        VmDirectory vms = new VmDirectory((name, console) -> MicroVm.unconfigured(name, dir, (behavior, config, checkKernel) -> {
            assertEquals(name, config.name());
            return CompletableFuture.completedFuture(echoing(name, console));
        }));
        ServeApi.bind(kit.system(), vms, new ApiEndpoint.UnixSocket(socket));
        Path kernel = Files.writeString(dir.resolve("kernel"), "x");
        for (int i = 0; i < 20; i++) {
            ControlApiTest.Reply created = request(socket, "POST", "/vms", "{\"name\": \"vm-" + i + "\"}");
            assertEquals(201, created.status(), created.body());
        }
        assertEquals(409, request(socket, "POST", "/vms", "{\"name\": \"vm-3\"}").status());
        assertEquals(400, request(socket, "POST", "/vms", "{\"name\": \"../etc\"}").status());
        assertEquals(400, request(socket, "POST", "/vms", "{}").status());
        assertEquals(404, request(socket, "GET", "/vms/nobody/machine-config", "").status());

        for (int i = 0; i < 20; i += 2) { // every other VM is started, with its own memory size
            String vm = "/vms/vm-" + i;
            assertEquals(204, request(socket, "PUT", vm + "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}").status());
            assertEquals(204, request(socket, "PUT", vm + "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": " + (16 + i) + "}").status());
            assertEquals(204, request(socket, "PUT", vm + "/actions", "{\"action_type\": \"InstanceStart\"}").status());
        }
        assertEquals(34, request(socket, "GET", "/vms/vm-18/machine-config", "").json().get("mem_size_mib").asInt());
        assertEquals("Not started", request(socket, "GET", "/vms/vm-1/", "").json().get("state").asText());
        JsonNode list = request(socket, "GET", "/vms", "").json();
        assertEquals(20, list.size());
        for (int i = 0; i < 20; i++) {
            assertEquals("vm-" + i, list.get(i).get("name").asText());
            assertEquals(i % 2 == 0 ? "running" : "not started", list.get(i).get("state").asText(), list.toString());
        }

        JsonNode six = request(socket, "GET", "/vms?name=vm-6", "").json();
        assertEquals(1, six.size(), six.toString());
        assertEquals("running", six.get(0).get("state").asText());
        assertEquals(0, request(socket, "GET", "/vms?name=nobody", "").json().size());

        assertEquals(204, request(socket, "PUT", "/vms/vm-4/console/input", "{\"data\": \"hello four\"}").status());
        assertEquals(204, request(socket, "PUT", "/vms/vm-6/console/input", "{\"data\": \"hello six\"}").status());
        assertEquals(400, request(socket, "PUT", "/vms/vm-5/console/input", "{\"data\": \"not started\"}").status());
        JsonNode four = request(socket, "GET", "/vms/vm-4/console", "").json();
        assertEquals("hello four", four.get("text").asText());
        assertEquals("four", request(socket, "GET", "/vms/vm-4/console?since=6", "").json().get("text").asText());
        assertEquals("hello six", request(socket, "GET", "/vms/vm-6/console", "").json().get("text").asText());

        assertEquals(204, request(socket, "DELETE", "/vms/vm-4", "").status());
        assertEquals(204, request(socket, "DELETE", "/vms/vm-5", "").status());
        assertTrue(stopped.containsKey("vm-4"), "deleting a running VM stops it");
        assertEquals(404, request(socket, "GET", "/vms/vm-4/", "").status());
        assertEquals(18, request(socket, "GET", "/vms", "").json().size());
        assertEquals(201, request(socket, "POST", "/vms", "{\"name\": \"vm-4\"}").status(), "a deleted name is free again");
    }

    /**
     * A node's listing with one VM whose entity never answers (its node is starting, or gone and its
     * shard not moved yet): the listing still answers, well inside the request timeout, with that VM
     * as "unknown" after the VMs that answered; a name that is no VM's any more is not listed.
     */
    @Test
    void aClusterListingAnswersInTimeWhenAVmDoesNot() throws Exception {
        Path socket = dir.resolve("node.sock");
        ConsoleTail fastConsole = new ConsoleTail();
        VmDirectory.Remote cluster = new VmDirectory.Remote() {
            @Override
            public java.util.concurrent.CompletionStage<List<String>> names() {
                return CompletableFuture.completedFuture(List.of("fast", "gone", "slow"));
            }

            @Override
            public java.util.concurrent.CompletionStage<VmDirectory.Entry> find(String name) {
                return switch (name) {
                    case "fast" -> CompletableFuture.completedFuture(new VmDirectory.Entry(name, MicroVm.running(echoing(name, fastConsole),
                            new io.actorvm.vmm.actors.VmConfig(name, Path.of("/k"), "", 16L << 20, 1)), fastConsole));
                    case "gone" -> CompletableFuture.completedFuture(null);
                    default -> new CompletableFuture<>(); // never answers
                };
            }

            @Override
            public java.util.concurrent.CompletionStage<Place> placeOf(String name) {
                return CompletableFuture.completedFuture(new Place("127.0.0.1:2551", ""));
            }

            @Override
            public java.util.concurrent.CompletionStage<Void> migrate(String name, String to, long downtimeMillis, int maxRounds) {
                return CompletableFuture.failedFuture(new IllegalArgumentException("not in this test"));
            }

            @Override
            public List<Map<String, String>> nodes() {
                return List.of(Map.of("node", "127.0.0.1:2551", "status", "up"));
            }
        };
        VmDirectory vms = new VmDirectory((name, console) -> MicroVm.unconfigured(name, dir, (behavior, config, checkKernel) -> {
            throw new IllegalStateException("not in this test");
        }), cluster);
        ServeApi.bind(kit.system(), vms, new ApiEndpoint.UnixSocket(socket));
        long t0 = System.nanoTime();
        ControlApiTest.Reply reply = request(socket, "GET", "/vms", "");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(200, reply.status(), reply.body());
        assertTrue(seconds < 15, "the listing took " + seconds + " s");
        JsonNode list = reply.json();
        assertEquals(2, list.size(), list.toString());
        assertEquals("fast", list.get(0).get("name").asText());
        assertEquals("running", list.get(0).get("state").asText());
        assertEquals("127.0.0.1:2551", list.get(0).get("node").asText());
        assertEquals("slow", list.get(1).get("name").asText());
        assertEquals("unknown", list.get(1).get("state").asText());
        JsonNode fast = request(socket, "GET", "/vms?name=fast", "").json();
        assertEquals(1, fast.size(), "the one VM asked for, without waiting on the one that does not answer: " + fast);
        assertEquals("127.0.0.1:2551", fast.get(0).get("node").asText());
    }

    @Test
    void theConsoleTailKeepsTheNewestBytesAndTheirOffsets() {
        ConsoleTail tail = new ConsoleTail();
        byte[] big = new byte[ConsoleTail.CAPACITY + 10];
        for (int i = 0; i < big.length; i++) big[i] = (byte) ('a' + i % 26);
        tail.append("0123456789".getBytes(StandardCharsets.US_ASCII));
        tail.append(big);
        assertEquals(ConsoleTail.CAPACITY + 20, tail.total());
        ConsoleTail.Read all = tail.since(0);
        assertEquals(20, all.from(), "the oldest bytes are gone");
        assertEquals(ConsoleTail.CAPACITY, all.bytes().length);
        assertEquals(big[10], all.bytes()[0]);
        assertEquals(big[big.length - 1], all.bytes()[ConsoleTail.CAPACITY - 1]);
        assertEquals(0, tail.since(tail.total()).bytes().length);
    }
}
