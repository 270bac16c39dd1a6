package io.actorvm.vmm.actors.journal;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Where a VM's journal lives: an embedded H2 database in the data directory (the default), or a
 * PostgreSQL server (for clusters). Gives the Pekko configuration of the JDBC journal plugin and
 * creates its tables (the DDL shipped inside pekko-persistence-jdbc) if they are missing.
 */
public record Journal(Dialect dialect, String url, String user, String password) {
    public enum Dialect {
        H2("slick.jdbc.H2Profile$", "org.h2.Driver", "schema/h2/h2-create-schema.sql"),
        POSTGRES("slick.jdbc.PostgresProfile$", "org.postgresql.Driver", "schema/postgres/postgres-create-schema.sql");

        final String profile, driver, ddl;

        Dialect(String profile, String driver, String ddl) {
            this.profile = profile;
            this.driver = driver;
            this.ddl = ddl;
        }
    }

    /**
     * H2's settings for the embedded journal, so that a VMM killed with SIGKILL loses no event it
     * was told is durable. {@code WRITE_DELAY=0}: a commit is written before it returns.
     * {@code RETENTION_TIME}: H2 keeps superseded data this long before reusing its space, and
     * measured with H2 2.5.252, a commit made once the database has been open longer than that
     * (45 s by default) can be missing after a SIGKILL: recovery does not find the chunk written
     * into reused space. The journal is small and written rarely, so it keeps everything until
     * the database is closed (which compacts it).
     */
    static final String H2_SETTINGS = ";WRITE_DELAY=0;RETENTION_TIME=" + Integer.MAX_VALUE;

    /** The embedded journal of {@code dataDir}. */
    public static Journal h2(Path dataDir) {
        Path file = dataDir.toAbsolutePath().normalize().resolve("journal");
        return new Journal(Dialect.H2, "jdbc:h2:file:" + file + H2_SETTINGS, "sa", "");
    }

    public static Journal postgres(String url, String user, String password) {
        return new Journal(Dialect.POSTGRES, url, user, password);
    }

    /** The Pekko configuration for this journal, to put in front of the application's own. */
    public Config pekkoConfig() {
        String db = """
                profile = "%s"
                db {
                  url = "%s"
                  user = "%s"
                  password = "%s"
                  driver = "%s"
                  numThreads = 2
                  maxConnections = 2
                  minConnections = 1
                  connectionTimeout = 10s
                }
                """.formatted(dialect.profile, escape(url), escape(user), escape(password), dialect.driver);
        return ConfigFactory.parseString("""
                pekko.persistence.journal.plugin = "jdbc-journal"
                pekko.persistence.snapshot-store.plugin = "jdbc-snapshot-store"
                pekko-persistence-jdbc.shared-databases.actorvm { %s }
                jdbc-journal.use-shared-db = "actorvm"
                jdbc-snapshot-store.use-shared-db = "actorvm"
                jdbc-read-journal.use-shared-db = "actorvm"
                jdbc-durable-state-store.use-shared-db = "actorvm"
                # Pekko's defaults (recovery 30 s, writes 10 s) fail the journal, which then stops,
                # on a host whose JVM runs slowly (the emulated KVM host, a loaded machine) while the
                # database starts; a VM's journal is written rarely, so waiting longer costs nothing.
                jdbc-journal.recovery-event-timeout = 120s
                jdbc-journal.circuit-breaker.call-timeout = 60s
                jdbc-snapshot-store.circuit-breaker.call-timeout = 60s
                # Not auto-started (auto-start-journals): tried, the journal and the snapshot store
                # both started Slick while the whole actor system started, and on the emulated KVM
                # host the snapshot store gave up waiting for it after 20 s, so nothing could be
                # journaled. Started when the first VM recovers, they have not failed so.
                """.formatted(db));
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    /** Creates the journal tables if they do not exist yet; safe to call on every start. */
    public void ensureSchema() {
        String ddl;
        try (InputStream in = Journal.class.getClassLoader().getResourceAsStream(dialect.ddl)) {
            if (in == null) throw new IllegalStateException("pekko-persistence-jdbc DDL " + dialect.ddl + " not on the classpath");
            ddl = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + dialect.ddl, e);
        }
        // The shipped DDL creates some indexes without IF NOT EXISTS; make every statement repeatable.
        ddl = ddl.replaceAll("(?i)CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(?!IF NOT EXISTS)", "CREATE $1INDEX $2IF NOT EXISTS ");
        try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
            for (String statement : ddl.split(";")) {
                if (!statement.isBlank()) s.execute(statement);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot prepare the journal at " + url + ": " + e.getMessage(), e);
        }
    }

    /** Opens the embedded journal of a data directory, creating the directory and tables. */
    public static Journal openData(Path dataDir) {
        try {
            Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot create data directory " + dataDir + ": " + e.getMessage());
        }
        Journal j = h2(dataDir);
        j.ensureSchema();
        return j;
    }
}
