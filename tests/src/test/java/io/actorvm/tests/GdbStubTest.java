package io.actorvm.tests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.actorvm.tests.SnapshotRestoreTest.awaitOutput;
import static io.actorvm.tests.SnapshotRestoreTest.freePort;
import static io.actorvm.tests.SnapshotRestoreTest.processOutput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real gdb (Debian's) in batch mode against {@code run --gdb}: the counter guest, built with
 * debug info, waits for gdb; gdb breaks at a C function and prints its argument and a global,
 * steps a line, watches the counter (a hardware watchpoint) and sees it change, then lets the
 * guest run to its end. With {@code --gdb-step-breakpoints}: the KVM host this runs in (KVM nested
 * under QEMU's TCG) never delivers int3 or debug-register exceptions to KVM, single-steps it does.
 */
class GdbStubTest {
    @TempDir
    Path dir;

    @Test
    void gdbBreaksPrintsStepsWatchesAndRunsTheGuestToItsEnd() throws Exception {
        GuestRun.assumeKvm();
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/gdb")), "no gdb on this host (Debian's gdb package)");
        int port = freePort();
        Path out = dir.resolve("run.out");
        Process vmm = new ProcessBuilder(GuestRun.cli("run", "--kernel", GuestRun.guest("counter").toString(), "--memory", "16M",
                "--cmdline", "every=1000 limit=3000", "--gdb", "tcp:127.0.0.1:" + port, "--gdb-step-breakpoints"))
                .redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            Path err = Path.of(out + ".err");
            awaitOutput(out, () -> Files.readString(err).contains("waits for gdb") || !vmm.isAlive());
            assertTrue(vmm.isAlive(), "the VMM waits for gdb" + processOutput(out));
            assertEquals("", Files.readString(out), "the guest has not run before gdb says so");

            Path script = Files.writeString(dir.resolve("session.gdb"), String.join("\n",
                    "set pagination off",
                    "set confirm off",
                    "target remote 127.0.0.1:" + port,
                    "break print_u64",
                    "continue",
                    "print v",
                    "print guest_counter",
                    "next",
                    "info registers rip",
                    "delete",
                    "watch guest_counter",
                    "continue",
                    "continue",
                    "delete",
                    "continue",
                    ""));
            Process gdb = new ProcessBuilder("gdb", "-nx", "-batch", "-x", script.toString(), GuestRun.guest("counter").toString())
                    .redirectErrorStream(true).start();
            String session = new String(gdb.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(gdb.waitFor(5, TimeUnit.MINUTES), "gdb finished");
            String all = session + processOutput(out);
            assertTrue(session.matches("(?s).*Breakpoint 1, print_u64 \\(v=(v@entry=)?1000\\).*"), "stopped at the breakpoint with its argument:\n" + all);
            assertTrue(session.contains("$1 = 1000"), "a local (the argument):\n" + all);
            assertTrue(session.contains("$2 = 1000"), "the global counter:\n" + all);
            assertTrue(session.contains("rip            0x"), "registers:\n" + all);
            assertTrue(session.contains("Hardware watchpoint 2: guest_counter"), "a hardware watchpoint:\n" + all);
            assertTrue(session.contains("Old value = 1000") && session.contains("New value = 1001"), "the watchpoint saw the write:\n" + all);
            assertTrue(session.contains("Old value = 1001") && session.contains("New value = 1002"), "and the next one:\n" + all);
            assertTrue(session.contains("exited normally"), "the guest ran to its end:\n" + all);
            assertTrue(vmm.waitFor(2, TimeUnit.MINUTES), "the VMM ends with the guest" + processOutput(out));
            assertEquals(0, vmm.exitValue(), processOutput(out));
            assertTrue(Files.readString(out).contains("count 3000"), processOutput(out));
        } finally {
            vmm.destroyForcibly();
            vmm.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
