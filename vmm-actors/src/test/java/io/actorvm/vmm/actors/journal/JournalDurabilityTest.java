package io.actorvm.vmm.actors.journal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The embedded journal keeps every commit across a SIGKILL-like end of the JVM, including commits
 * made after the database has been open longer than H2's default retention time (45 s): with
 * H2's defaults those were lost (see {@link Journal#H2_SETTINGS}). Takes about a minute.
 */
class JournalDurabilityTest {
    /** Seconds between the writer's commits; the last lands past H2's default 45 s retention. */
    static final int[] WRITE_AT_SECONDS = {0, 25, 50};

    @TempDir
    Path dir;

    @Test
    void commitsSurviveAHaltAfterTheRetentionTime() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process writer = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
                Writer.class.getName(), dir.toString()).inheritIO().start();
        if (!writer.waitFor(3, TimeUnit.MINUTES)) {
            writer.destroyForcibly();
            throw new AssertionError("the writer did not finish");
        }
        assertEquals(Writer.HALT_STATUS, writer.exitValue(), "the writer ends by halting, as a kill would");
        List<Integer> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(Journal.h2(dir).url(), "sa", "");
             ResultSet r = c.createStatement().executeQuery("SELECT id FROM probe ORDER BY id")) {
            while (r.next()) rows.add(r.getInt(1));
        }
        assertEquals(List.of(0, 1, 2), rows, "every committed row survives");
    }

    /** Commits one row at each of {@link #WRITE_AT_SECONDS}, then halts without closing anything. */
    public static final class Writer {
        static final int HALT_STATUS = 9;

        public static void main(String[] args) throws SQLException, InterruptedException {
            Journal journal = Journal.h2(Path.of(args[0]));
            Connection c = DriverManager.getConnection(journal.url(), "sa", "");
            c.createStatement().execute("CREATE TABLE probe(id INT)");
            long start = System.nanoTime();
            for (int i = 0; i < WRITE_AT_SECONDS.length; i++) {
                long wait = TimeUnit.SECONDS.toNanos(WRITE_AT_SECONDS[i]) - (System.nanoTime() - start);
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                c.createStatement().execute("INSERT INTO probe VALUES (" + i + ")"); // auto-commit
            }
            Runtime.getRuntime().halt(HALT_STATUS); // no shutdown hooks, no close: what SIGKILL leaves
        }
    }
}
