package io.actorvm.tests;

import io.actorvm.images.GuestImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.actorvm.tests.SnapshotRestoreTest.awaitOutput;
import static io.actorvm.tests.SnapshotRestoreTest.counts;
import static io.actorvm.tests.SnapshotRestoreTest.processOutput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Firecracker's guides, run against actorvm: each VMM is {@code actorvm run --api-sock PATH} with
 * no other flags, driven by {@code curl --unix-socket} with the requests of Firecracker's
 * getting-started guide (logger, boot source, machine config, a root drive, InstanceStart) and
 * snapshot guide (pause, create full and diff snapshots, load into a new process, resume).
 */
class FirecrackerApiGuestTest {
    @TempDir
    Path dir;

    record Answer(int status, String body) {}

    /** One request as the guides send it: curl on the API socket, JSON in and out. */
    static Answer curl(Path socket, String method, String path, String json) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "-i", "--unix-socket", socket.toString(), "-X", method,
                "http://localhost" + path, "-H", "Accept: application/json", "-H", "Content-Type: application/json"));
        if (json != null) cmd.addAll(List.of("--data", json));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "curl " + method + " " + path + " finished");
        assertEquals(0, p.exitValue(), "curl " + method + " " + path + ": " + out);
        int end = out.indexOf("\r\n\r\n");
        return new Answer(Integer.parseInt(out.substring(9, 12)), end < 0 ? "" : out.substring(end + 4));
    }

    static void put(Path socket, String path, String json) throws Exception {
        Answer a = curl(socket, "PUT", path, json);
        assertEquals(204, a.status(), "PUT " + path + ": " + a.body());
    }

    static void patch(Path socket, String path, String json) throws Exception {
        Answer a = curl(socket, "PATCH", path, json);
        assertEquals(204, a.status(), "PATCH " + path + ": " + a.body());
    }

    /** A VMM waiting for its configuration, as {@code firecracker --api-sock PATH} starts. */
    Process vmm(Path socket, Path out) throws Exception {
        Process p = new ProcessBuilder(GuestRun.cli("run", "--api-sock", socket.toString())).redirectOutput(out.toFile())
                .redirectError(new File(out + ".err")).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        awaitOutput(out, () -> Files.exists(socket) || !p.isAlive());
        assertTrue(p.isAlive(), "the VMM serves its API socket" + processOutput(out));
        return p;
    }

    static void stop(Process p) throws InterruptedException {
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
    }

    @Test
    void theGettingStartedSequenceBootsLinuxOnItsRootDrive() throws Exception {
        GuestRun.assumeKvm();
        GuestRun.assumeHardwareVirtualization("the Firecracker getting-started test (a Linux guest)");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/apt-get")), "no apt-get on this host: cannot assemble the Debian guest");
        GuestImage guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.out.println("guest build: " + line));
        String marker = "actorvm-fc-rootfs-" + System.nanoTime();
        byte[] image = new byte[8 << 20];
        System.arraycopy(marker.getBytes(StandardCharsets.US_ASCII), 0, image, 0, marker.length());
        Path rootfs = Files.write(dir.resolve("rootfs.ext4"), image);
        Path socket = dir.resolve("firecracker.socket"), out = dir.resolve("fc.out"), log = dir.resolve("fc.log");
        Files.createFile(log);
        Process vmm = vmm(socket, out);
        try {
            assertTrue(curl(socket, "GET", "/", null).body().contains("\"state\":\"Not started\""));
            put(socket, "/logger", "{\"log_path\": \"" + log + "\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": true}");
            // The guide's boot arguments, then our init's words: print the root drive's first bytes (it powers off after).
            put(socket, "/boot-source", "{\"kernel_image_path\": \"" + guest.vmlinux() + "\", \"initrd_path\": \"" + guest.initramfs()
                    + "\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off quiet -- /bin/busybox sh -c \\\"echo rootfs=$(head -c "
                    + marker.length() + " /dev/vda); cat /proc/cmdline\\\"\"}");
            put(socket, "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
            put(socket, "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + rootfs + "\", \"is_root_device\": true, "
                    + "\"is_read_only\": false}");
            put(socket, "/metrics", "{\"metrics_path\": \"" + dir.resolve("metrics.json") + "\"}");
            put(socket, "/actions", "{\"action_type\": \"InstanceStart\"}");
            Answer late = curl(socket, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
            assertEquals(400, late.status(), late.body());
            assertTrue(late.body().contains("fault_message"), late.body());

            awaitOutput(out, () -> !vmm.isAlive());
            assertEquals(0, vmm.exitValue(), "the guest powered off" + processOutput(out));
            String console = Files.readString(out, StandardCharsets.ISO_8859_1);
            assertTrue(console.contains("rootfs=" + marker), "the guest read its root drive" + processOutput(out));
            assertTrue(console.contains("root=/dev/vda rw"), "the root drive is on the kernel command line, as Firecracker puts it"
                    + processOutput(out));
        } finally {
            stop(vmm);
        }
    }

    /**
     * {@code SendCtrlAltDel} as Firecracker's guide uses it to shut a guest down: Linux's atkbd
     * found the i8042's keyboard (through IRQ 1), the keys arrive, and the kernel restarts at once
     * (our /init is no init that takes Ctrl+Alt+Del over), which with {@code reboot=k} ends the VMM.
     */
    @Test
    void sendCtrlAltDelRebootsLinuxAndEndsTheVmm() throws Exception {
        GuestRun.assumeKvm();
        GuestRun.assumeHardwareVirtualization("the SendCtrlAltDel test (a Linux guest)");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/apt-get")), "no apt-get on this host: cannot assemble the Debian guest");
        GuestImage guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.out.println("guest build: " + line));
        Path socket = dir.resolve("firecracker.socket"), out = dir.resolve("fc.out");
        Process vmm = vmm(socket, out);
        try {
            // Waits (up to ~30 s of guest time) for the keyboard to be registered, shows the input devices, then sleeps.
            put(socket, "/boot-source", "{\"kernel_image_path\": \"" + guest.vmlinux() + "\", \"initrd_path\": \"" + guest.initramfs()
                    + "\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off quiet -- /bin/busybox sh -c \\\"for i in $(seq 150); do "
                    + "grep -q keyboard /proc/bus/input/devices && break; sleep 0.2; done; grep Name= /proc/bus/input/devices; "
                    + "echo keyboard-wait-over; sleep 600\\\"\"}");
            put(socket, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
            put(socket, "/actions", "{\"action_type\": \"InstanceStart\"}");
            awaitOutput(out, () -> Files.readString(out, StandardCharsets.ISO_8859_1).contains("keyboard-wait-over") || !vmm.isAlive());
            String before = Files.readString(out, StandardCharsets.ISO_8859_1);
            assertTrue(before.contains("AT Translated Set 2 keyboard"), "Linux found the i8042's keyboard" + processOutput(out));

            put(socket, "/actions", "{\"action_type\": \"SendCtrlAltDel\"}");
            awaitOutput(out, () -> !vmm.isAlive());
            assertEquals(0, vmm.exitValue(), "the guest's reboot ended the VMM" + processOutput(out));
            String console = Files.readString(out, StandardCharsets.ISO_8859_1);
            assertTrue(console.contains("reboot: Restarting system"), "the kernel restarted" + processOutput(out));
            assertTrue(!console.contains("command exit status"), "the command did not end on its own" + processOutput(out));
        } finally {
            stop(vmm);
        }
    }

    @Test
    void theSnapshotSequenceLoadsIntoANewProcessAndTheGuestGoesOn() throws Exception {
        GuestRun.assumeKvm();
        Path socket1 = dir.resolve("fc1.socket"), out1 = dir.resolve("fc1.out");
        Path fullState = dir.resolve("snapshot_file"), fullMem = dir.resolve("mem_file");
        Path diffState = dir.resolve("diff_snapshot_file"), diffMem = dir.resolve("diff_mem_file");
        Process first = vmm(socket1, out1);
        long atFull, atDiff;
        try {
            put(socket1, "/boot-source", "{\"kernel_image_path\": \"" + GuestRun.guest("counter") + "\", \"boot_args\": \"every=20000\"}");
            put(socket1, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 16, \"track_dirty_pages\": true}");
            put(socket1, "/actions", "{\"action_type\": \"InstanceStart\"}");
            awaitOutput(out1, () -> counts(out1).size() >= 3);

            patch(socket1, "/vm", "{\"state\": \"Paused\"}");
            assertTrue(curl(socket1, "GET", "/", null).body().contains("\"state\":\"Paused\""));
            put(socket1, "/snapshot/create", "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"" + fullState + "\", \"mem_file_path\": \""
                    + fullMem + "\"}");
            atFull = counts(out1).getLast();
            assertEquals(16L << 20, Files.size(fullMem), "the memory file is the guest's RAM");
            patch(socket1, "/vm", "{\"state\": \"Resumed\"}");
            awaitOutput(out1, () -> counts(out1).getLast() > atFull + 200000);

            patch(socket1, "/vm", "{\"state\": \"Paused\"}");
            put(socket1, "/snapshot/create", "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"" + diffState + "\", \"mem_file_path\": \""
                    + diffMem + "\"}");
            atDiff = counts(out1).getLast();
            patch(socket1, "/vm", "{\"state\": \"Resumed\"}");
        } finally {
            stop(first);
        }

        // The full snapshot, into a fresh process, paused until resumed: the count goes on from the snapshot.
        Path socket2 = dir.resolve("fc2.socket"), out2 = dir.resolve("fc2.out");
        Process second = vmm(socket2, out2);
        try {
            put(socket2, "/snapshot/load", "{\"snapshot_path\": \"" + fullState + "\", \"mem_backend\": {\"backend_path\": \"" + fullMem
                    + "\", \"backend_type\": \"File\"}, \"enable_diff_snapshots\": true, \"resume_vm\": false}");
            assertTrue(curl(socket2, "GET", "/", null).body().contains("\"state\":\"Paused\""));
            patch(socket2, "/vm", "{\"state\": \"Resumed\"}");
            awaitOutput(out2, () -> !counts(out2).isEmpty());
            long resumed = counts(out2).getFirst();
            assertTrue(resumed > atFull && resumed < atDiff, "the count resumes after " + atFull + " (the full snapshot), not at "
                    + resumed + processOutput(out2));
        } finally {
            stop(second);
        }

        // The diff laid over the full memory file (as Firecracker's rebase-snap does), resumed on load.
        mergeDiff(diffMem, fullMem);
        Path socket3 = dir.resolve("fc3.socket"), out3 = dir.resolve("fc3.out");
        Process third = vmm(socket3, out3);
        try {
            put(socket3, "/snapshot/load", "{\"snapshot_path\": \"" + diffState + "\", \"mem_file_path\": \"" + fullMem
                    + "\", \"resume_vm\": true}");
            awaitOutput(out3, () -> !counts(out3).isEmpty());
            long resumed = counts(out3).getFirst();
            assertTrue(resumed > atDiff, "the count resumes after " + atDiff + " (the diff snapshot), not at " + resumed + processOutput(out3));
            Answer second2 = curl(socket3, "PUT", "/snapshot/load", "{\"snapshot_path\": \"" + diffState + "\", \"mem_file_path\": \""
                    + fullMem + "\"}");
            assertEquals(400, second2.status(), "a running microVM loads no snapshot: " + second2.body());
        } finally {
            stop(third);
        }
    }

    /** Writes every page of the diff that is not a hole (all zeros) over the base memory file. */
    static void mergeDiff(Path diff, Path base) throws IOException {
        byte[] d = Files.readAllBytes(diff), b = Files.readAllBytes(base);
        assertEquals(b.length, d.length, "a diff memory file is as large as the guest's RAM");
        byte[] zero = new byte[4096];
        int pages = 0;
        for (int off = 0; off < d.length; off += 4096) {
            if (!Arrays.equals(d, off, off + 4096, zero, 0, 4096)) {
                System.arraycopy(d, off, b, off, 4096);
                pages++;
            }
        }
        assertTrue(pages > 0 && pages < d.length / 4096 / 2, "the diff holds some pages, far from all: " + pages);
        Files.write(base, b);
    }
}
