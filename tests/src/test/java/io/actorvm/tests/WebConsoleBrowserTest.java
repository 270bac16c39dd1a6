package io.actorvm.tests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.actorvm.tests.SnapshotRestoreTest.awaitOutput;
import static io.actorvm.tests.SnapshotRestoreTest.processOutput;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web console of {@code actorvm serve}, end to end in Debian's headless Chromium driven by
 * Playwright ({@code browser/web-console.mjs}): start the hello guest from the page and read its
 * greeting in the terminal, type into the echo guest and see the echo, take a snapshot and find
 * it on the timeline, restore from it and type again. The screenshot is kept under
 * {@code target/web-console.png}. Needs node, /usr/bin/chromium and {@code npm ci} in
 * {@code tests/browser} (CI installs them; {@code ACTORVM_REQUIRE_BROWSER=1} makes their absence a failure).
 */
class WebConsoleBrowserTest {
    static final Path SCRIPT_DIR = Path.of("browser").toAbsolutePath();
    static final Path CHROMIUM = Path.of(System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium"));

    @TempDir
    Path dir;

    static void assumeBrowser() {
        boolean required = "1".equals(System.getenv("ACTORVM_REQUIRE_BROWSER"));
        String missing = !Files.isExecutable(Path.of("/usr/bin/node")) ? "no /usr/bin/node (Debian's nodejs)"
                : !Files.isExecutable(CHROMIUM) ? "no " + CHROMIUM + " (Debian's chromium)"
                : !Files.isDirectory(SCRIPT_DIR.resolve("node_modules/playwright-core")) ? "no playwright-core (npm ci --prefix tests/browser)"
                : null;
        if (missing == null) return;
        if (required) throw new AssertionError("ACTORVM_REQUIRE_BROWSER=1 but " + missing);
        GuestRun.assume(false, missing + ": the web console's browser test cannot run");
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 25, unit = TimeUnit.MINUTES)
    void aUserStartsTypesSnapshotsAndRestoresFromThePage() throws Exception {
        GuestRun.assumeKvm();
        assumeBrowser();
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path out = dir.resolve("serve.out");
        Process serve = new ProcessBuilder(GuestRun.cli("serve", "--api", "tcp:127.0.0.1:" + port, "--data-dir", dir.resolve("data").toString()))
                .redirectOutput(out.toFile()).redirectError(new File(out + ".err"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            Path err = Path.of(out + ".err");
            awaitOutput(out, () -> (Files.exists(err) && Files.readString(err).contains("serving VMs on")) || !serve.isAlive());
            assertTrue(serve.isAlive(), "serve runs" + processOutput(out));

            Path screenshot = Path.of("target/web-console.png").toAbsolutePath();
            Files.deleteIfExists(screenshot);
            Path log = dir.resolve("browser.log");
            Process browser = new ProcessBuilder(List.of("/usr/bin/node", SCRIPT_DIR.resolve("web-console.mjs").toString(),
                    "http://127.0.0.1:" + port, GuestRun.guest("hello").toString(), GuestRun.guest("echo").toString(), screenshot.toString()))
                    .directory(SCRIPT_DIR.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            // Longer than the script's own steps may take together (each gives up after 180 s and
            // says where): in the emulated host beside another one the whole script once took over 10 minutes.
            boolean finished = browser.waitFor(22, TimeUnit.MINUTES);
            if (!finished) browser.destroyForcibly().waitFor();
            String said = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println(said.strip().lines().map(l -> "browser: " + l).reduce((a, b) -> a + "\n" + b).orElse(""));
            assertTrue(finished, "the browser script finished within 22 min:\n" + said);
            assertEquals(0, browser.exitValue(), said + processOutput(out));
            assertTrue(said.contains("web-console: ok"), said);
            assertTrue(Files.size(screenshot) > 0, "a screenshot at " + screenshot);
        } finally {
            serve.destroy();
            if (!serve.waitFor(30, TimeUnit.SECONDS)) serve.destroyForcibly().waitFor();
        }
    }
}
