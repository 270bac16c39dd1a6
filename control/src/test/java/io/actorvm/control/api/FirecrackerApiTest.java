package io.actorvm.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

import static io.actorvm.control.api.ControlApiTest.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Firecracker's routes against an instance whose launcher is a stand-in (a unit test of the API and
 * {@link MicroVm}: what a sequence of requests configures, and which requests each state refuses).
 * The same sequences against real VMs run in the tests module ({@code FirecrackerApiGuestTest}).
 */
class FirecrackerApiTest {
    final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("pekko.http.server.idle-timeout = 5s"));
    @TempDir
    Path dir;
    final AtomicReference<VmConfig> launched = new AtomicReference<>();

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
    }

    /** Ctrl+Alt+Del requests the stand-in VM got. */
    final java.util.concurrent.atomic.AtomicInteger ctrlAltDels = new java.util.concurrent.atomic.AtomicInteger();

    /** A VM that pauses and resumes, takes Ctrl+Alt+Del and reports its state. */
    ActorRef<Vm.Command> standIn() {
        Vm.State[] state = {Vm.State.RUNNING};
        return kit.spawn(Behaviors.receive(Vm.Command.class)
                .onMessage(Vm.GetStatus.class, g -> {
                    g.replyTo().tell(new Vm.Status("fc", state[0], null));
                    return Behaviors.same();
                })
                .onMessage(Vm.GetStats.class, g -> {
                    g.replyTo().tell(new Vm.Stats(Map.of("exits", 42L), List.of()));
                    return Behaviors.same();
                })
                .onMessage(Vm.Pause.class, p -> {
                    state[0] = Vm.State.PAUSED;
                    p.replyTo().tell(StatusReply.ack());
                    return Behaviors.same();
                })
                .onMessage(Vm.Resume.class, p -> {
                    state[0] = Vm.State.RUNNING;
                    p.replyTo().tell(StatusReply.ack());
                    return Behaviors.same();
                })
                .onMessage(Vm.SendCtrlAltDel.class, k -> {
                    ctrlAltDels.incrementAndGet();
                    k.replyTo().tell(StatusReply.ack());
                    return Behaviors.same();
                })
                .build());
    }

    Path socket() throws Exception {
        Path socket = dir.resolve("fc.sock");
        MicroVm instance = MicroVm.unconfigured("fc", dir.resolve("data"), (behavior, config, checkKernel) -> {
            launched.set(config);
            return CompletableFuture.completedFuture(standIn());
        });
        ControlApi.bind(kit.system(), instance, new ApiEndpoint.UnixSocket(socket));
        return socket;
    }

    static void assertFault(ControlApiTest.Reply r, String expected) throws Exception {
        assertEquals(400, r.status(), r.body());
        String message = r.json().get("fault_message").asText();
        assertTrue(message.contains(expected), "'" + message + "' says '" + expected + "'");
    }

    static void assertDone(ControlApiTest.Reply r) {
        assertEquals(204, r.status(), r.body());
    }

    @Test
    void theGettingStartedSequenceConfiguresTheVmAndStateRulesHold() throws Exception {
        Path socket = socket();
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "not checked until start");
        Path rootfs = Files.write(dir.resolve("rootfs.ext4"), new byte[1 << 20]);
        JsonNode info = request(socket, "GET", "/", "").json();
        assertEquals("Not started", info.get("state").asText());
        assertEquals("fc", info.get("id").asText());

        assertFault(request(socket, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), "needs a boot source");
        assertFault(request(socket, "PUT", "/boot-source", "{\"kernel_image_path\": \"" + dir.resolve("none") + "\"}"),
                "kernel_image_path " + dir.resolve("none") + " is not a readable file");
        assertFault(request(socket, "PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\", \"bogus\": 1}"), "bogus");
        assertDone(request(socket, "PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\", "
                + "\"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}"));

        assertFault(request(socket, "PUT", "/machine-config", "{\"vcpu_count\": 2}"), "mem_size_mib");
        assertFault(request(socket, "PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 256}"), "vcpu_count must be between 1");
        assertDone(request(socket, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}"));
        assertDone(request(socket, "PATCH", "/machine-config", "{\"track_dirty_pages\": true}"));
        assertFault(request(socket, "PATCH", "/machine-config", "{\"huge_pages\": \"1G\"}"), "huge_pages 1G is not supported");
        assertFault(request(socket, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 255, \"huge_pages\": \"2M\"}"),
                "mem_size_mib must be a multiple of 2");
        assertDone(request(socket, "PATCH", "/machine-config", "{\"huge_pages\": \"2M\"}"));
        assertEquals("2M", request(socket, "GET", "/machine-config", "").json().get("huge_pages").asText());
        assertDone(request(socket, "PATCH", "/machine-config", "{\"huge_pages\": \"None\"}"));
        JsonNode machine = request(socket, "GET", "/machine-config", "").json();
        assertEquals(2, machine.get("vcpu_count").asInt());
        assertEquals(256, machine.get("mem_size_mib").asInt());
        assertTrue(machine.get("track_dirty_pages").asBoolean());

        assertFault(request(socket, "PUT", "/drives/rootfs", "{\"drive_id\": \"other\", \"path_on_host\": \"" + rootfs
                + "\", \"is_root_device\": true}"), "is not the one of the path");
        assertDone(request(socket, "PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + rootfs
                + "\", \"is_root_device\": true, \"is_read_only\": false}"));
        assertFault(request(socket, "PUT", "/drives/second", "{\"drive_id\": \"second\", \"path_on_host\": \"" + rootfs
                + "\", \"is_root_device\": true}"), "already the root device");
        assertFault(request(socket, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
                + "\"guest_mac\": \"AA:FC:00\"}"), "bad MAC address");
        assertDone(request(socket, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
                + "\"guest_mac\": \"AA:FC:00:00:00:01\"}"));
        assertFault(request(socket, "PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
                + "\"switch\": \"lan\"}"), "not both");
        assertFault(request(socket, "PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\"}"), "needs 'host_dev_name'");
        assertDone(request(socket, "PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"switch\": \"lan\"}"));
        assertDone(request(socket, "PUT", "/entropy", "{}"));
        assertFault(request(socket, "PUT", "/mmds", "{}"), "MMDS (/mmds) is not supported");
        assertFault(request(socket, "PUT", "/vsock", "{}"), "vsock devices (/vsock) are not supported");
        assertFault(request(socket, "PUT", "/logger", "{\"level\": \"Verbose\"}"), "level must be");
        assertFault(request(socket, "PATCH", "/vm", "{\"state\": \"Paused\"}"), "not started yet");
        assertFault(request(socket, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), "not started yet");

        JsonNode config = request(socket, "GET", "/vm/config", "").json();
        assertEquals(kernel.toString(), config.get("boot-source").get("kernel_image_path").asText());
        assertEquals("rootfs", config.get("drives").get(0).get("drive_id").asText());
        assertEquals("tap0", config.get("network-interfaces").get(0).get("host_dev_name").asText());

        assertDone(request(socket, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"));
        VmConfig vm = launched.get();
        assertNotNull(vm);
        assertEquals("console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda rw", vm.cmdline());
        assertEquals(2, vm.cpus());
        assertEquals(256L << 20, vm.memory());
        assertEquals(rootfs, vm.disks().getFirst().path());
        assertEquals("tap0", vm.nets().getFirst().name());
        assertEquals(io.actorvm.vmm.actors.NetConfig.Kind.SWITCH, vm.nets().get(1).kind());
        assertEquals("lan", vm.nets().get(1).name());
        assertTrue(vm.rng());
        assertEquals(dir.resolve("data"), vm.dataDir());

        assertFault(request(socket, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), "only allowed before the microVM starts");
        assertFault(request(socket, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}"), "only allowed before");
        assertFault(request(socket, "PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"" + rootfs
                + "\", \"is_root_device\": false}"), "only allowed before");
        assertFault(request(socket, "PUT", "/snapshot/load", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"), "only allowed before");
        assertEquals("Running", request(socket, "GET", "/", "").json().get("state").asText());
        assertFault(request(socket, "PUT", "/snapshot/create", "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"s\", "
                + "\"mem_file_path\": \"m\"}"), "must be paused");
        assertDone(request(socket, "PATCH", "/vm", "{\"state\": \"Paused\"}"));
        assertEquals("Paused", request(socket, "GET", "/", "").json().get("state").asText());
        assertFault(request(socket, "PATCH", "/vm", "{\"state\": \"Sleeping\"}"), "state must be");
        assertDone(request(socket, "PATCH", "/vm", "{\"state\": \"Resumed\"}"));
        assertDone(request(socket, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"));
        assertEquals(1, ctrlAltDels.get(), "the VM got the keys");

        assertFault(request(socket, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), "PUT /metrics");
        Path metrics = dir.resolve("metrics.json");
        assertDone(request(socket, "PUT", "/metrics", "{\"metrics_path\": \"" + metrics + "\"}"));
        assertDone(request(socket, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"));
        assertDone(request(socket, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"));
        List<String> lines = Files.readAllLines(metrics);
        assertEquals(2, lines.size(), lines.toString());
        JsonNode first = ControlApiTest.JSON.readTree(lines.getFirst());
        assertTrue(first.get("utc_timestamp_ms").asLong() > 0, lines.getFirst());
        assertEquals(42, first.get("vcpu").get("exits").asLong(), lines.getFirst());
    }

    @Test
    void aSnapshotLoadNeedsAFreshInstanceAndRealFiles() throws Exception {
        Path socket = socket();
        assertFault(request(socket, "PUT", "/snapshot/load", "{\"snapshot_path\": \"" + dir.resolve("none") + "\", "
                + "\"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"/x\"}}"), "Uffd is not supported");
        assertFault(request(socket, "PUT", "/snapshot/load", "{\"snapshot_path\": \"" + dir.resolve("none") + "\", "
                + "\"mem_file_path\": \"" + dir.resolve("mem") + "\"}"), "snapshot file " + dir.resolve("none") + " does not exist");
        // A failed load leaves the instance as it was: configurable, not started.
        assertEquals("Not started", request(socket, "GET", "/", "").json().get("state").asText());
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "x");
        assertDone(request(socket, "PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}"));
        assertFault(request(socket, "PUT", "/snapshot/load", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
                "only allowed before any other configuration");
    }

    @Test
    void kernelParametersGoBeforeTheInitsWords() {
        assertEquals("console=ttyS0 root=/dev/vda rw -- /bin/sh -c 'x'", MicroVm.insertBeforeInitArgs("console=ttyS0 -- /bin/sh -c 'x'", "root=/dev/vda rw"));
        assertEquals("root=/dev/vda ro", MicroVm.insertBeforeInitArgs("", "root=/dev/vda ro"));
        assertEquals("root=/dev/vda rw -- x", MicroVm.insertBeforeInitArgs("-- x", "root=/dev/vda rw"));
    }
}
