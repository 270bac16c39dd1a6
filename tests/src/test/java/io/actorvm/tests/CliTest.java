package io.actorvm.tests;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI as a user runs it: a separate JVM, the terminal's streams, exit statuses. */
class CliTest {
    record Result(int status, String out, String err) {}

    static Result actorvm(byte[] stdin, String... args) throws IOException, InterruptedException {
        List<String> cmd = GuestRun.cli(args);
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().write(stdin);
        p.getOutputStream().close();
        var out = p.getInputStream().readAllBytes();
        var err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "actorvm did not end");
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    static Result actorvm(String... args) throws IOException, InterruptedException {
        return actorvm(new byte[0], args);
    }

    static void assertOneLineError(Result r, String expected) {
        assertEquals(2, r.status(), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertTrue(r.err().startsWith("actorvm: ") && r.err().contains(expected), r.err());
    }

    @Test
    void runsHelloAndReturnsTheGuestStatus() throws Exception {
        GuestRun.assumeKvm();
        Result r = actorvm("run", "--kernel", GuestRun.guest("hello").toString(), "--memory", "16M");
        assertEquals("hello from guest\n", r.out());
        assertEquals(0, r.status(), r.err());
        assertEquals("", r.err());
    }

    @Test
    void ctrlAxQuitsAGuestThatNeverEnds() throws Exception {
        GuestRun.assumeKvm();
        Result r = actorvm(new byte[] {'a', 0x01, 'x'}, "run", "--kernel", GuestRun.guest("counter").toString(), "--memory", "16M");
        assertEquals(0, r.status(), r.err());
    }

    @Test
    void badInputGetsOneLineErrorsAndStatusTwo(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assertOneLineError(actorvm("run", "--kernel", "/nonexistent/vmlinux"), "kernel file /nonexistent/vmlinux does not exist");
        Path text = Files.writeString(dir.resolve("notes.txt"), "this is not a kernel\n");
        assertOneLineError(actorvm("run", "--kernel", text.toString()), "kernel is neither a Linux bzImage nor an ELF file");
        Path truncated = dir.resolve("hello-truncated.elf");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(GuestRun.guest("hello")), 100));
        assertOneLineError(actorvm("run", "--kernel", truncated.toString()), "outside the file");
        String hello = GuestRun.guest("hello").toString();
        assertOneLineError(actorvm("run", "--kernel", hello, "--memory", "12Q"), "bad size '12Q'");
        assertOneLineError(actorvm("run", "--kernel", hello, "--memory", "1K"), "guest memory must be");
        assertOneLineError(actorvm("run", "--kernel", hello, "--cpus", "0"), "cpus must be between 1 and");
        assertOneLineError(actorvm("run", "--kernel"), "Missing required parameter");
        assertOneLineError(actorvm("run"), "give --kernel FILE, or --api-sock PATH to configure the VM through the API");
        assertOneLineError(actorvm("run", "--api-sock", dir.resolve("fc.sock").toString(), "--disk", hello), "go with --kernel");
        assertOneLineError(actorvm("run", "--kernel", hello, "--memory", "1M"), "guest memory must be");
        assertOneLineError(actorvm("run", "--kernel", hello, "--jfr", "/nonexistent/dir/vm.jfr"), "cannot record to /nonexistent/dir/vm.jfr");
        String sock = dir.resolve("nobody.sock").toString();
        assertOneLineError(actorvm("inspect", "regs"), "say what to inspect: --data-dir DIR (a stored snapshot) or --api-sock PATH");
        assertOneLineError(actorvm("inspect", "--data-dir", dir.toString(), "--api-sock", sock, "regs"), "not both");
        assertOneLineError(actorvm("inspect", "--api-sock", sock, "queues"), "virtqueues of a running VM: take a snapshot");
        assertOneLineError(actorvm("inspect", "--api-sock", sock, "regs"), "cannot reach the control API at " + sock);
        assertOneLineError(actorvm("step"), "say where the VM's API is");
        assertOneLineError(actorvm("step", "--api-sock", sock, "--until", "0xzz"), "bad address '0xzz'");
        assertOneLineError(actorvm("step", "--api-sock", sock, "--timeout", "0"), "--timeout must be between 1 and 300 seconds");
        assertOneLineError(actorvm("step", "--api-sock", sock), "cannot reach the control API at " + sock);
    }
}
