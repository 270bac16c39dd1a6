package io.actorvm.tests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.actorvm.tests.FirecrackerApiGuestTest.curl;
import static io.actorvm.tests.FirecrackerApiGuestTest.put;
import static io.actorvm.tests.SnapshotRestoreTest.awaitOutput;
import static io.actorvm.tests.SnapshotRestoreTest.processOutput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code actorvm serve}: twenty echo guests in one VMM process, each created, configured, started,
 * typed into and deleted by name through the API socket (with curl), each console its own.
 */
class ServeGuestTest {
    static final int VMS = 20;
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;

    static JsonNode json(FirecrackerApiGuestTest.Answer a) throws Exception {
        assertEquals(200, a.status(), a.body());
        return JSON.readTree(a.body());
    }

    static String console(Path socket, String name) throws Exception {
        return json(curl(socket, "GET", "/vms/" + name + "/console", null)).get("text").asText();
    }

    @Test
    void twentyEchoGuestsInOneProcessEachAddressedByName() throws Exception {
        GuestRun.assumeKvm();
        Path socket = dir.resolve("serve.sock"), out = dir.resolve("serve.out");
        Process serve = new ProcessBuilder(GuestRun.cli("serve", "--api-sock", socket.toString(), "--data-dir", dir.resolve("data").toString()))
                .redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            awaitOutput(out, () -> Files.exists(socket) || !serve.isAlive());
            assertTrue(serve.isAlive(), "serve runs" + processOutput(out));
            for (int i = 0; i < VMS; i++) {
                String name = "echo-" + i;
                FirecrackerApiGuestTest.Answer created = curl(socket, "POST", "/vms", "{\"name\": \"" + name + "\"}");
                assertEquals(201, created.status(), created.body());
                put(socket, "/vms/" + name + "/boot-source", "{\"kernel_image_path\": \"" + GuestRun.guest("echo") + "\"}");
                put(socket, "/vms/" + name + "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 16}");
                put(socket, "/vms/" + name + "/actions", "{\"action_type\": \"InstanceStart\"}");
            }
            for (int i = 0; i < VMS; i++) {
                String name = "echo-" + i;
                awaitOutput(out, () -> console(socket, name).contains("echo ready"));
            }
            JsonNode list = json(curl(socket, "GET", "/vms", null));
            assertEquals(VMS, list.size(), list.toString());
            for (JsonNode vm : list) assertEquals("running", vm.get("state").asText(), list.toString());

            for (int i = 0; i < VMS; i++) {
                put(socket, "/vms/echo-" + i + "/console/input", "{\"data\": \"ping-" + i + ";\"}");
            }
            for (int i = 0; i < VMS; i++) {
                String name = "echo-" + i, mine = "ping-" + i + ";";
                awaitOutput(out, () -> console(socket, name).contains(mine));
                String text = console(socket, name);
                for (int j = 0; j < VMS; j++) {
                    if (j != i) assertFalse(text.contains("ping-" + j + ";"), name + " saw only its own input: " + text);
                }
            }
            // Half of them end themselves ('q'); the others are stopped by their deletion.
            for (int i = 0; i < VMS; i += 2) put(socket, "/vms/echo-" + i + "/console/input", "{\"data\": \"q\"}");
            for (int i = 0; i < VMS; i += 2) {
                String name = "echo-" + i;
                awaitOutput(out, () -> console(socket, name).contains("echo irqs="));
            }
            awaitOutput(out, () -> {
                JsonNode vms = json(curl(socket, "GET", "/vms", null));
                for (int i = 0; i < VMS; i++) {
                    if (!vms.get(i).get("state").asText().equals(i % 2 == 0 ? "stopped" : "running")) return false;
                }
                return true;
            });
            for (int i = 0; i < VMS; i++) {
                FirecrackerApiGuestTest.Answer deleted = curl(socket, "DELETE", "/vms/echo-" + i, null);
                assertEquals(204, deleted.status(), deleted.body());
            }
            assertEquals(0, json(curl(socket, "GET", "/vms", null)).size());
            assertTrue(serve.isAlive(), "serve outlives its VMs" + processOutput(out));
        } finally {
            serve.destroy(); // SIGTERM: a clean shutdown
            assertTrue(serve.waitFor(60, TimeUnit.SECONDS), "serve ends on SIGTERM" + processOutput(out));
            assertFalse(Files.exists(socket), "the socket goes with the process");
        }
    }
}
