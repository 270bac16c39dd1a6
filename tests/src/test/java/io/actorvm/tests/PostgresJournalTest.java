package io.actorvm.tests;

import com.typesafe.config.ConfigFactory;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.journal.Journal;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The VM journal on a real PostgreSQL server: the test starts a private server (initdb into a
 * temporary directory, loopback only, its own port), writes a VM's events, restarts the actor
 * system, and checks that recovery and the read journal see every event. PostgreSQL comes from
 * Debian (.ci/run installs it); without it the test skips with the reason.
 */
class PostgresJournalTest {
    static PostgresServer server;

    @BeforeAll
    static void startServer() throws Exception {
        server = PostgresServer.start();
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (server != null) server.close();
    }

    @Test
    void eventsSurviveARestartAndAreListedInOrder() throws Exception {
        Journal journal = Journal.postgres(server.url(), "postgres", "");
        journal.ensureSchema();
        journal.ensureSchema(); // repeatable
        var config = journal.pekkoConfig().withFallback(ConfigFactory.parseString("pekko.loglevel = WARNING")).withFallback(ConfigFactory.load());
        List<VmEvent> written = List.of(VmEvents.started(), VmEvents.paused(), VmEvents.resumed(),
                VmEvents.snapshotTaken("snap-1", Path.of("/data/snapshots/snap-1.manifest"), null, true, 4096, 70000),
                VmEvents.stopped("test", 0));

        ActorTestKit first = ActorTestKit.create("pg1", config);
        try {
            var vm = first.spawn(VmJournal.create("pg-vm"));
            TestProbe<Done> done = first.createTestProbe();
            for (VmEvent e : written) {
                vm.tell(new VmJournal.Record(e, done.getRef()));
                done.expectMessage(Duration.ofSeconds(30), Done.getInstance());
            }
        } finally {
            first.shutdownTestKit();
        }

        ActorTestKit second = ActorTestKit.create("pg2", config);
        try {
            var vm = second.spawn(VmJournal.create("pg-vm"));
            TestProbe<VmJournal.State> state = second.createTestProbe();
            vm.tell(new VmJournal.GetState(state.getRef()));
            VmJournal.State recovered = state.expectMessageClass(VmJournal.State.class, Duration.ofSeconds(30));
            assertEquals(written.size(), recovered.events());
            assertEquals("snap-1", recovered.lastSnapshotId());

            JdbcReadJournal read = PersistenceQuery.get(second.system()).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
            List<EventEnvelope> events = read.currentEventsByPersistenceId(VmJournal.persistenceId("pg-vm").id(), 0, Long.MAX_VALUE)
                    .runWith(org.apache.pekko.stream.javadsl.Sink.seq(), second.system()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(written.size(), events.size());
            for (int i = 0; i < written.size(); i++) {
                assertEquals(i + 1, events.get(i).sequenceNr());
                assertEquals(written.get(i), events.get(i).event());
            }
        } finally {
            second.shutdownTestKit();
        }
    }
}
