package io.actorvm.control.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code actorvm node --join-timeout}: a real node (an actor system with Artery TCP on loopback
 * and its H2 journal) whose seed never answers gives up after the timeout and says so. The node
 * runs without KVM here, as the launcher's start-up training runs it: joining needs none.
 */
class NodeJoinTimeoutTest {
    @TempDir
    Path dir;

    record Run(int status, String err) {}

    private Run node(String... args) {
        NodeCommand node = new NodeCommand();
        node.withoutKvm = true;
        PrintStream err = System.err;
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            CommandLine cl = new CommandLine(node);
            cl.setParameterExceptionHandler((x, a) -> {
                System.err.println("actorvm: " + x.getMessage());
                return Main.USAGE_ERROR;
            });
            return new Run(cl.execute(args), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(err);
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void aNodeItsSeedNeverLetsInGivesUpAfterItsJoinTimeout() throws Exception {
        String seed = "127.0.0.1:" + freePort(); // nothing listens there
        long t0 = System.nanoTime();
        Run run = node("--data-dir", dir.resolve("data").toString(), "--cluster-port", Integer.toString(freePort()),
                "--api-sock", dir.resolve("node.sock").toString(), "--seed", seed, "--join-timeout", "3s");
        double took = (System.nanoTime() - t0) / 1e9;
        assertEquals(NodeCommand.JOIN_FAILED, run.status(), run.err());
        assertTrue(run.err().contains("could not join the cluster through " + seed + " within 3s; start it again"), run.err());
        assertTrue(took >= 3 && took < 60, "gave up after its 3 s, not " + took + " s");
    }

    @Test
    void aJoinTimeoutThatIsNoDurationIsAOneLineError() {
        Run run = node("--data-dir", dir.resolve("data").toString(), "--api-sock", dir.resolve("node.sock").toString(),
                "--seed", "127.0.0.1:2551", "--join-timeout", "soon");
        assertEquals(Main.USAGE_ERROR, run.status());
        assertEquals("actorvm: --join-timeout takes a duration such as 7s or 500ms, not soon", run.err().strip());
    }
}
