package io.actorvm.tests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.actorvm.tests.SnapshotRestoreTest.awaitOutput;
import static io.actorvm.tests.SnapshotRestoreTest.counts;
import static io.actorvm.tests.SnapshotRestoreTest.lastLine;
import static io.actorvm.tests.SnapshotRestoreTest.processOutput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code inspect} and {@code diff} on snapshots of the counter guest: the 64-bit counter read from
 * the stored snapshot by its symbol's address (virtual, through the guest's page tables, and
 * physical) is the count the guest had printed by then or a little more, it grows from one
 * snapshot to the next, and {@code diff} lists the counter's page; {@code replay --at} the first
 * snapshot under gdb shows the counter at the snapshot's value and steps it on.
 */
class SnapshotInspectGuestTest {
    @TempDir
    Path dir;

    /** The address of {@code symbol} in an ELF, from binutils' nm. */
    static long symbol(Path elf, String symbol) throws Exception {
        Process nm = new ProcessBuilder("nm", elf.toString()).redirectErrorStream(true).start();
        String out = new String(nm.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        nm.waitFor(1, TimeUnit.MINUTES);
        Matcher m = Pattern.compile("(?m)^([0-9a-f]+) \\S ").matcher("");
        for (String line : out.split("\n")) {
            if (line.endsWith(" " + symbol) && m.reset(line).find()) return Long.parseLong(m.group(1), 16);
        }
        throw new AssertionError(symbol + " not in " + elf + ": " + out);
    }

    /** The little-endian u64 at the start of a hex dump's first line. */
    static long firstU64(String dump) {
        String[] hex = dump.lines().findFirst().orElseThrow().substring(17).trim().split("\\s+");
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | Long.parseLong(hex[i], 16);
        return v;
    }

    static long counterIn(String snapshot, Path data, long address, boolean virtual) throws Exception {
        CliTest.Result r = virtual
                ? CliTest.actorvm("inspect", "--data-dir", data.toString(), "--snapshot", snapshot, "mem", "0x" + Long.toHexString(address), "8", "--virtual")
                : CliTest.actorvm("inspect", "--data-dir", data.toString(), "--snapshot", snapshot, "mem", "0x" + Long.toHexString(address), "8");
        assertEquals(0, r.status(), r.err());
        return firstU64(r.out());
    }

    // Two runs, two replays and a dozen CLI processes: 673 s in the emulated KVM host beside another (2026-12-04).
    @Test
    @org.junit.jupiter.api.Timeout(value = 25, unit = TimeUnit.MINUTES)
    void theCounterIsReadFromSnapshotsByItsAddressAndDiffListsItsPage() throws Exception {
        GuestRun.assumeKvm();
        Path data = dir.resolve("data"), out = dir.resolve("run.out");
        String api = dir.resolve("api.sock").toString();
        long counter = symbol(GuestRun.guest("counter"), "guest_counter");
        Process vmm = new ProcessBuilder(GuestRun.cli("run", "--kernel", GuestRun.guest("counter").toString(), "--memory", "16M",
                "--cmdline", "every=20000", "--api-sock", api, "--data-dir", data.toString(), "--name", "ctr"))
                .redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String first, second;
        long printedBeforeFirst, printedAfterFirst;
        try {
            awaitOutput(out, () -> counts(out).size() >= 3);
            printedBeforeFirst = counts(out).getLast();
            CliTest.Result s1 = CliTest.actorvm("snapshot", "--api-sock", api);
            assertEquals(0, s1.status(), s1.err() + processOutput(out));
            printedAfterFirst = counts(out).getLast();
            first = lastLine(s1.out());
            awaitOutput(out, () -> counts(out).getLast() > printedAfterFirst + 100000);
            CliTest.Result s2 = CliTest.actorvm("snapshot", "--api-sock", api);
            assertEquals(0, s2.status(), s2.err() + processOutput(out));
            second = lastLine(s2.out());
        } finally {
            vmm.destroyForcibly();
            vmm.waitFor(30, TimeUnit.SECONDS);
        }

        long v1 = counterIn(first, data, counter, true);
        assertEquals(v1, counterIn(first, data, counter, false), "the test guest maps virtual to physical one to one");
        assertTrue(v1 >= printedBeforeFirst, "the snapshot's counter " + v1 + " is at least the count printed before it, " + printedBeforeFirst);
        long v2 = counterIn(second, data, counter, true);
        assertTrue(v2 > v1 + 100000, "the counter grew from " + v1 + " to " + v2);

        CliTest.Result diff = CliTest.actorvm("diff", "--data-dir", data.toString(), first, second);
        assertEquals(0, diff.status(), diff.err());
        String pages = diff.out().lines().findFirst().orElseThrow();
        assertTrue(coversPage(pages, counter), "diff lists the counter's page 0x" + Long.toHexString(counter & ~0xFFFL) + ": " + diff.out());
        // The vCPU may be parked at the same rip both times (a tight loop): some register still moved on.
        assertTrue(diff.out().lines().anyMatch(l -> l.startsWith("vcpu0.")), "registers moved on: " + diff.out());

        CliTest.Result regs = CliTest.actorvm("inspect", "--data-dir", data.toString(), "--name", "ctr", "regs");
        assertEquals(0, regs.status(), regs.err());
        assertTrue(regs.out().contains("snapshot " + second + " of ctr") && regs.out().contains("rip="), "the newest snapshot's registers: " + regs.out());
        CliTest.Result tree = CliTest.actorvm("history", "--data-dir", data.toString(), "--name", "ctr", "--tree");
        assertEquals(0, tree.status(), tree.err());
        assertTrue(tree.out().startsWith(first + "  full") && tree.out().contains("└─ " + second + "  incremental"),
                "the second snapshot under the first: " + tree.out());
        CliTest.Result devices = CliTest.actorvm("inspect", "--data-dir", data.toString(), "--snapshot", second, "devices");
        assertTrue(devices.out().contains("serial"), devices.out());
        CliTest.assertOneLineError(CliTest.actorvm("inspect", "--data-dir", data.toString(), "--snapshot", second, "mem", "0xffffffff000", "8"),
                "not RAM");

        // replay --at the first snapshot, without gdb: inspect and step it through its API.
        replayThroughTheApi(data, first, counter, v1);

        // replay --at the first snapshot, under gdb: the counter is where the snapshot has it, and steps on from there.
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/gdb")), "no gdb on this host (Debian's gdb package)");
        String session = GdbReplay.session(dir, data, "ctr", first, List.of(), List.of("print guest_counter", "watch guest_counter",
                "continue", "kill"), GuestRun.guest("counter").toString());
        assertTrue(session.contains("$1 = " + v1), "the replayed counter is the snapshot's, " + v1 + ":\n" + session);
        assertTrue(session.contains("Old value = " + v1) && session.contains("New value = " + (v1 + 1)), "and it steps on from there:\n" + session);
    }

    /**
     * {@code replay --at} a snapshot with {@code --api-sock}: {@code inspect --api-sock} reads the
     * counter by its virtual address at the snapshot's value and shows the registers; {@code step}
     * runs instructions (the counter moves on, the VM stays paused) and runs to an address.
     */
    private void replayThroughTheApi(Path data, String snapshot, long counter, long atSnapshot) throws Exception {
        String api = dir.resolve("replay.sock").toString();
        Path out = dir.resolve("replay-api.out");
        Process replay = new ProcessBuilder(GuestRun.cli("replay", "--data-dir", data.toString(), "--name", "ctr", "--at", snapshot,
                "--api-sock", api))
                .redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            Path err = Path.of(out + ".err");
            awaitOutput(out, () -> Files.readString(err).contains("paused (resume") || !replay.isAlive());
            assertTrue(replay.isAlive(), "replay runs, paused" + processOutput(out));
            String address = "0x" + Long.toHexString(counter);
            // The CLI for the counter and the steps (each command a JVM: slow in the emulated host), curl for the rest.
            CliTest.Result mem = CliTest.actorvm("inspect", "--api-sock", api, "mem", address, "8", "--virtual");
            assertEquals(0, mem.status(), mem.err() + processOutput(out));
            assertEquals(atSnapshot, firstU64(mem.out()), "the replayed counter is the snapshot's: " + mem.out());
            Path socket = Path.of(api);
            FirecrackerApiGuestTest.Answer regs = FirecrackerApiGuestTest.curl(socket, "GET", "/debug/vcpus/0/registers", null);
            assertEquals(200, regs.status(), regs.body());
            assertTrue(regs.body().contains("\"rip\":\"0x") && regs.body().contains("\"cr3\":\"0x"), regs.body());
            FirecrackerApiGuestTest.Answer noVcpu = FirecrackerApiGuestTest.curl(socket, "GET", "/debug/vcpus/1/registers", null);
            assertEquals(400, noVcpu.status(), noVcpu.body());
            assertTrue(noVcpu.body().contains("the VM has no vCPU 1"), noVcpu.body());

            CliTest.Result step = CliTest.actorvm("step", "--api-sock", api, "--count", "500");
            assertEquals(0, step.status(), step.err() + processOutput(out));
            Matcher m = Pattern.compile("vcpu 0: 500 steps, rip=(0x[0-9a-f]+)").matcher(step.out());
            assertTrue(m.find(), step.out());
            long after = counterThroughApi(socket, address);
            assertTrue(after > atSnapshot && after < atSnapshot + 500, "500 instructions move the counter on a little: " + atSnapshot + " -> " + after);
            // Run to where the 500 steps ended: the loop comes back there within one more round.
            CliTest.Result to = CliTest.actorvm("step", "--api-sock", api, "--until", m.group(1));
            assertEquals(0, to.status(), to.err() + processOutput(out));
            assertTrue(to.out().matches("(?s)vcpu 0: [0-9]+ steps, rip=" + m.group(1) + " \\(reached " + m.group(1) + "\\)\\s*"), to.out());
            long later = counterThroughApi(socket, address);
            assertTrue(later > after, "a round of the loop counted once more: " + after + " -> " + later);

            FirecrackerApiGuestTest.put(socket, "/vm/resume", null);
            FirecrackerApiGuestTest.Answer running = FirecrackerApiGuestTest.curl(socket, "PUT", "/debug/step", "{}");
            assertEquals(409, running.status(), running.body());
            assertTrue(running.body().contains("pause it first"), running.body());
        } finally {
            replay.destroyForcibly();
            replay.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** The little-endian u64 at a virtual address, through the API's /debug/memory. */
    static long counterThroughApi(Path socket, String address) throws Exception {
        FirecrackerApiGuestTest.Answer a = FirecrackerApiGuestTest.curl(socket, "GET", "/debug/memory?address=" + address + "&length=8&virtual=true", null);
        assertEquals(200, a.status(), a.body());
        Matcher hex = Pattern.compile("\"hex\":\"([0-9a-f]{16})\"").matcher(a.body());
        assertTrue(hex.find(), a.body());
        return Long.reverseBytes(Long.parseUnsignedLong(hex.group(1), 16));
    }

    /** Whether a "pages: N differ 0xA 0xB-0xC" line covers the page holding {@code address}. */
    static boolean coversPage(String line, long address) {
        long page = address & ~0xFFFL;
        Matcher m = Pattern.compile("0x([0-9a-f]+)(?:-0x([0-9a-f]+))?").matcher(line);
        while (m.find()) {
            long from = Long.parseLong(m.group(1), 16), to = m.group(2) == null ? from + 0xFFF : Long.parseLong(m.group(2), 16);
            if (page >= from && page <= to) return true;
        }
        return false;
    }
}
