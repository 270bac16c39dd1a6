package io.actorvm.tests;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A private PostgreSQL server for a test: initdb into a temporary directory, loopback only, its
 * own port, stopped and removed by {@link #close}. PostgreSQL comes from Debian (.ci/run installs
 * it); without it {@link #start} skips the test with the reason.
 */
final class PostgresServer implements AutoCloseable {
    static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");
    final Path dir;
    final int port;

    private PostgresServer(Path dir, int port) {
        this.dir = dir;
        this.port = port;
    }

    /** The JDBC URL of its {@code postgres} database (user {@code postgres}, no password). */
    String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    }

    static PostgresServer start() throws Exception {
        GuestRun.assume(Files.isExecutable(BIN.resolve("postgres")),
                "no PostgreSQL 15 server in " + BIN + " (apt-get install postgresql): PostgreSQL test skipped");
        Path dir = Files.createTempDirectory("actorvm-pg");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        new ProcessBuilder("chown", "postgres", dir.toString()).start().waitFor();
        run(BIN.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U", "postgres", "--auth=trust", "-E", "UTF8");
        run(BIN.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-w", "-l", dir.resolve("log").toString(),
                "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1", "start");
        return new PostgresServer(dir, port);
    }

    @Override
    public void close() throws Exception {
        run(BIN.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "immediate", "stop");
        new ProcessBuilder("rm", "-rf", dir.toString()).start().waitFor();
    }

    private static void run(String... cmd) throws Exception {
        List<String> full = new ArrayList<>();
        // PostgreSQL refuses to run as root: run it as the postgres user the Debian package created.
        if ("root".equals(System.getProperty("user.name"))) full.addAll(List.of("runuser", "-u", "postgres", "--"));
        full.addAll(List.of(cmd));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException(String.join(" ", cmd) + ": " + out);
    }
}
