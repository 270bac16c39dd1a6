package io.actorvm.tests;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.actorvm.tests.SnapshotRestoreTest.awaitOutput;
import static io.actorvm.tests.SnapshotRestoreTest.processOutput;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code replay --at SNAPSHOT --gdb ... --gdb-step-breakpoints} in its own process, and the real gdb
 * (batch mode) running a script against it: what gdb printed, followed by the replay's output.
 */
final class GdbReplay {
    private GdbReplay() {}

    /** gdb's output for {@code commands} (run after {@code target remote}); {@code gdbArgs} go before the script (e.g. the ELF). */
    static String session(Path dir, Path data, String vm, String snapshot, List<String> before, List<String> commands, String... gdbArgs)
            throws IOException, InterruptedException {
        int port = SnapshotRestoreTest.freePort();
        Path out = dir.resolve("replay-" + vm + ".out");
        Process replay = new ProcessBuilder(GuestRun.cli("replay", "--data-dir", data.toString(), "--name", vm, "--at", snapshot,
                "--gdb", "tcp:127.0.0.1:" + port, "--gdb-step-breakpoints"))
                .redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            Path err = Path.of(out + ".err");
            awaitOutput(out, () -> Files.readString(err).contains("waits for gdb") || !replay.isAlive());
            assertTrue(replay.isAlive(), "replay waits for gdb" + processOutput(out));
            // gdb waits 2 s for an answer by default; the replay's first answers (classes loading, in an
            // emulated JVM) can take longer, and a late answer would be taken for the next one's.
            List<String> lines = new ArrayList<>(List.of("set pagination off", "set confirm off", "set remotetimeout 120"));
            lines.addAll(before);
            lines.add("target remote 127.0.0.1:" + port);
            lines.addAll(commands);
            lines.add("");
            Path script = Files.writeString(dir.resolve("replay-" + vm + ".gdb"), String.join("\n", lines));
            List<String> cmd = new ArrayList<>(List.of("gdb", "-nx", "-batch", "-x", script.toString()));
            cmd.addAll(List.of(gdbArgs));
            Path gdbOut = dir.resolve("replay-" + vm + ".gdb.out");
            Process gdb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(gdbOut.toFile()).start();
            boolean finished = gdb.waitFor(10, TimeUnit.MINUTES);
            if (!finished) gdb.destroyForcibly();
            String console = Files.exists(out) ? Files.readString(out, StandardCharsets.ISO_8859_1) : "";
            String session = Files.readString(gdbOut, StandardCharsets.UTF_8) + processOutput(out)
                    + "\nthe guest's console (end):\n" + console.substring(Math.max(0, console.length() - 3000));
            assertTrue(finished, "gdb did not finish within 10 minutes:\n" + session);
            return session;
        } finally {
            replay.destroyForcibly();
            replay.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
