package io.actorvm.tests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The snapshot story from the command line, each VMM its own JVM as a user runs it: run the
 * counter guest, snapshot it through the control API, kill the VMM with SIGKILL, restore in a new
 * JVM and see the count continue from the snapshot, not from zero; incremental snapshots, a
 * corrupted page, a kill in the middle of a snapshot, and the journal after all that.
 */
class SnapshotRestoreTest {
    /**
     * A whole "count N" line. The line being written when the output is read (or when the VMM is
     * killed) is left out: its number may be cut short ("count 8956" of "count 89560000").
     */
    static final Pattern COUNT = Pattern.compile("count (\\d+)\\r?\\n");
    /** A CLI process to its guest's first lines: seconds natively, a minute or more where the JVM itself runs emulated (the KVM host). */
    static final java.time.Duration PROCESS_START = java.time.Duration.ofMinutes(5);
    @TempDir
    Path dir;

    static List<String> java(String... args) {
        return GuestRun.cli(args);
    }

    Process start(Path out, String... args) throws IOException {
        return new ProcessBuilder(java(args)).redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    static CliTest.Result cli(String... args) throws Exception {
        return CliTest.actorvm(args);
    }

    /**
     * Waits up to {@link #PROCESS_START} for {@code condition} on a CLI process's output; on timeout
     * the failure shows what the process printed (the end of its stdout, all of its stderr).
     */
    static void awaitOutput(Path out, java.util.concurrent.Callable<Boolean> condition) throws IOException {
        awaitOutput(out, java.time.Duration.ofMillis(100), condition);
    }

    /** As {@link #awaitOutput(Path, java.util.concurrent.Callable)}, asking {@code condition} every {@code pollEvery}. */
    static void awaitOutput(Path out, java.time.Duration pollEvery, java.util.concurrent.Callable<Boolean> condition) throws IOException {
        try {
            await().pollInterval(pollEvery).atMost(PROCESS_START).until(condition);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(e.getMessage() + processOutput(out), e);
        }
    }

    /** What a CLI process started with {@link #start} printed: the end of its stdout, all of its stderr. */
    static String processOutput(Path out) throws IOException {
        String stdout = Files.exists(out) ? Files.readString(out, StandardCharsets.ISO_8859_1) : "";
        Path errFile = Path.of(out + ".err");
        String stderr = Files.exists(errFile) ? Files.readString(errFile, StandardCharsets.ISO_8859_1) : "";
        return "\n" + out.getFileName() + " stdout (end): " + stdout.substring(Math.max(0, stdout.length() - 400))
                + "\n" + out.getFileName() + " stderr: " + stderr;
    }

    static List<Long> counts(Path out) throws IOException {
        List<Long> c = new ArrayList<>();
        Matcher m = COUNT.matcher(Files.readString(out, StandardCharsets.ISO_8859_1));
        while (m.find()) c.add(Long.parseLong(m.group(1)));
        return c;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String lastLine(String s) {
        String[] lines = s.strip().split("\n");
        return lines[lines.length - 1].strip();
    }

    @Test
    void snapshotSigkillRestoreContinuesTheCount() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data");
        String api = dir.resolve("api.sock").toString(); // the API's default transport: a Unix socket
        Path out1 = dir.resolve("run.out");
        Process vmm = start(out1, "run", "--kernel", GuestRun.guest("counter").toString(), "--memory", "16M",
                "--cmdline", "every=20000", "--api-sock", api, "--data-dir", data.toString(), "--name", "ctr");
        try {
            awaitOutput(out1, () -> counts(out1).size() >= 3);

            CliTest.Result full = cli("snapshot", "--api-sock", api);
            assertEquals(0, full.status(), full.err() + processOutput(out1));
            long beforeSnapshot = counts(out1).getLast(); // printed before the reply, so before or at the snapshot
            String fullId = lastLine(full.out());
            assertTrue(full.out().startsWith("full snapshot: "), full.out());

            CliTest.Result incremental = cli("snapshot", "--api-sock", api);
            assertEquals(0, incremental.status(), incremental.err() + processOutput(out1));
            String incId = lastLine(incremental.out());
            long fullPages = pages(full.out()), incPages = pages(incremental.out());
            assertTrue(incremental.out().startsWith("incremental snapshot: "), incremental.out());
            assertTrue(incPages * 20 < fullPages, "incremental (" + incPages + " pages) far smaller than full (" + fullPages + ")");

            long atIncremental = counts(out1).getLast();
            awaitOutput(out1, () -> counts(out1).getLast() > atIncremental + 100000);
            vmm.destroyForcibly(); // SIGKILL
            vmm.waitFor(30, TimeUnit.SECONDS);
            long atKill = counts(out1).getLast();

            Path out2 = dir.resolve("restore.out");
            // Recovery as a user does it: no snapshot id, the journal names the newest one (incId).
            Process restored = start(out2, "restore", "--data-dir", data.toString(), "--name", "ctr");
            try {
                awaitOutput(out2, () -> !counts(out2).isEmpty());
                long first = counts(out2).getFirst();
                assertTrue(first > beforeSnapshot, "restored count " + first + " continues after " + beforeSnapshot);
                assertTrue(first < atKill, "restored count " + first + " is from the snapshot, before the kill at " + atKill);
            } finally {
                restored.destroyForcibly();
                restored.waitFor(30, TimeUnit.SECONDS);
            }

            CliTest.Result history = cli("history", "--data-dir", data.toString(), "--name", "ctr");
            assertEquals(0, history.status(), history.err());
            for (String expected : List.of("defined ctr", "started", "snapshot-taken full", "snapshot-taken incremental", "restored")) {
                assertTrue(history.out().contains(expected), "history has '" + expected + "':\n" + history.out());
            }
            assertTrue(history.out().contains(fullId) && history.out().contains(incId), history.out());
        } finally {
            vmm.destroyForcibly();
        }
    }

    static long pages(String out) {
        Matcher m = Pattern.compile("snapshot: (\\d+) pages").matcher(out);
        assertTrue(m.find(), out);
        return Long.parseLong(m.group(1));
    }

    @Test
    void corruptOrMissingSnapshotsAreOneLineErrors() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data");
        String api = "127.0.0.1:" + freePort(); // TCP when asked for: loopback
        Path out = dir.resolve("run.out");
        // 256 MiB, so that a full snapshot takes long enough to be killed in the middle.
        Process vmm = start(out, "run", "--kernel", GuestRun.guest("counter").toString(), "--memory", "256M",
                "--cmdline", "every=20000", "--api", "tcp:" + api, "--data-dir", data.toString(), "--name", "c2");
        String id;
        try {
            awaitOutput(out, () -> counts(out).size() >= 2);
            CliTest.Result snap = cli("snapshot", "--api", "tcp:" + api);
            assertEquals(0, snap.status(), snap.err() + processOutput(out));
            id = lastLine(snap.out());
            // SIGKILL in the middle of another full snapshot: whatever phase it hits, the previous
            // snapshot stays restorable and the journal stays readable.
            java.net.http.HttpClient.newHttpClient().sendAsync(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://" + api + "/snapshot/create?type=full")).PUT(java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                    java.net.http.HttpResponse.BodyHandlers.discarding());
            Thread.sleep(250);
        } finally {
            vmm.destroyForcibly();
            vmm.waitFor(30, TimeUnit.SECONDS);
        }
        CliTest.Result history = cli("history", "--data-dir", data.toString(), "--name", "c2");
        assertEquals(0, history.status(), history.err());
        assertTrue(history.out().contains(id), history.out());
        Path restoredOut = dir.resolve("restore.out");
        Process restored = start(restoredOut, "restore", "--data-dir", data.toString(), "--snapshot", id);
        try {
            awaitOutput(restoredOut, () -> !counts(restoredOut).isEmpty());
        } finally {
            restored.destroyForcibly();
            restored.waitFor(30, TimeUnit.SECONDS);
        }

        CliTest.Result missing = cli("restore", "--data-dir", data.toString(), "--snapshot", "no-such-snapshot");
        CliTest.assertOneLineError(missing, "no-such-snapshot");

        // Flip one byte of a stored, non-zero page: restore must refuse, naming the damage.
        Path victim;
        try (Stream<Path> files = Files.walk(data.resolve("store"))) {
            victim = files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                    .filter(p -> p.toString().contains("pages")).filter(p -> {
                        try {
                            byte[] b = Files.readAllBytes(p);
                            for (byte x : b) if (x != 0) return true;
                            return false;
                        } catch (IOException e) {
                            return false;
                        }
                    }).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(victim);
        bytes[100] ^= 0x5A;
        Files.write(victim, bytes);
        CliTest.Result corrupt = cli("restore", "--data-dir", data.toString(), "--snapshot", id);
        assertEquals(2, corrupt.status(), corrupt.err());
        assertEquals(1, corrupt.err().lines().count(), corrupt.err());
        assertTrue(corrupt.err().startsWith("actorvm: ") && corrupt.err().toLowerCase().contains("corrupt"), corrupt.err());
    }
}
