package io.actorvm.vmm.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.actorvm.persistence.KryoSerializer;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.Journal;
import io.actorvm.vmm.actors.journal.VmEvents;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The VM entity without KVM: definitions (refused when unreadable, misnamed or taken), answers to
 * the VM protocol while no runner exists, recovery of its state from a real H2 journal in a new
 * actor system, and its cluster messages through the Kryo serializer.
 */
class VmEntityTest {
    static final Duration WAIT = Duration.ofSeconds(30);
    @TempDir
    Path data;

    private Config config() {
        return ConfigFactory.parseString("pekko.loglevel = WARNING").withFallback(Journal.openData(data).pekkoConfig())
                .withFallback(ConfigFactory.load());
    }

    private static byte[] definition(String name) {
        return VmEvents.definition(new VmConfig(name, Path.of("/guests/counter.elf"), "every=10", 16L << 20, 1)).toByteArray();
    }

    private static StatusReply<Done> define(ActorTestKit kit, ActorRef<VmEntity.Command> vm, byte[] definition) {
        return define(kit, vm, definition, "");
    }

    private static StatusReply<Done> define(ActorTestKit kit, ActorRef<VmEntity.Command> vm, byte[] definition, String request) {
        TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
        vm.tell(new VmEntity.Define(definition, request, reply.getRef()));
        return reply.receiveMessage(WAIT);
    }

    private static VmEntity.Info info(ActorTestKit kit, ActorRef<VmEntity.Command> vm) {
        TestProbe<VmEntity.Info> reply = kit.createTestProbe();
        vm.tell(new VmEntity.GetInfo(reply.getRef()));
        return reply.receiveMessage(WAIT);
    }

    @Test
    void aDefinitionIsCheckedRecordedOnceAndRecovered() throws Exception {
        ActorTestKit kit = ActorTestKit.create("entity1", config());
        try {
            var vm = kit.spawn(VmEntity.create("web-1", data, "127.0.0.1:2551"));
            VmEntity.Info before = info(kit, vm);
            assertFalse(before.defined());
            assertEquals("new", before.state());

            assertTrue(define(kit, vm, new byte[] {(byte) 0xff, 1, 2}).isError(), "garbage is refused");
            StatusReply<Done> misnamed = define(kit, vm, definition("web-2"));
            assertTrue(misnamed.isError() && misnamed.getError().getMessage().contains("web-2"), misnamed.toString());
            assertTrue(define(kit, vm, definition("web-1"), "request-1").isSuccess());
            // The same request sent again (its answer was late) did define the VM; any other is refused.
            assertTrue(define(kit, vm, definition("web-1"), "request-1").isSuccess(), "a retry of the define that made it");
            for (String other : new String[] {"", "request-2"}) {
                StatusReply<Done> twice = define(kit, vm, definition("web-1"), other);
                assertTrue(twice.isError() && twice.getError().getMessage().contains("exists already"), other + ": " + twice);
            }
            byte[] changed = VmEvents.definition(new VmConfig("web-1", Path.of("/guests/counter.elf"), "every=20", 16L << 20, 1)).toByteArray();
            assertTrue(define(kit, vm, changed, "request-1").isError(), "the same request with another definition is no retry");

            VmEntity.Info after = info(kit, vm);
            assertTrue(after.defined());
            assertEquals("defined", after.state());
            assertEquals("127.0.0.1:2551", after.node());
            var recorded = io.actorvm.persistence.proto.VmEvent.Defined.parseFrom(after.definition());
            assertEquals("web-1", recorded.getName());
            assertEquals(16L << 20, recorded.getMemoryBytes());

            // The VM's protocol without a runner: status answered by the entity, commands that need a VM refused.
            TestProbe<Vm.Status> status = kit.createTestProbe();
            vm.tell(new VmEntity.Forward(new Vm.GetStatus(status.getRef())));
            assertEquals(Vm.State.CREATED, status.receiveMessage(WAIT).state());
            TestProbe<Vm.Stats> stats = kit.createTestProbe();
            vm.tell(new VmEntity.Forward(new Vm.GetStats(stats.getRef())));
            Vm.Stats none = stats.receiveMessage(WAIT);
            var serialization = SerializationExtension.get(kit.system().classicSystem());
            assertTrue(serialization.serialize(none).isSuccess(), "the entity's own answers cross JVMs: " + serialization.serialize(none));
            TestProbe<StatusReply<Done>> paused = kit.createTestProbe();
            vm.tell(new VmEntity.Forward(new Vm.Pause(paused.getRef())));
            assertTrue(paused.receiveMessage(WAIT).isError());
            TestProbe<StatusReply<Done>> moved = kit.createTestProbe();
            vm.tell(new VmEntity.Migrate("127.0.0.1:2552", moved.getRef()));
            StatusReply<Done> notMoved = moved.receiveMessage(WAIT);
            assertTrue(notMoved.isError() && notMoved.getError().getMessage().contains("not running"), notMoved.toString());
            assertEquals(new io.actorvm.vmm.actors.migration.PreCopy.Settings(Duration.ofMillis(200), 5),
                    new VmEntity.Migrate("127.0.0.1:2552", 200, 5, moved.getRef()).settings());
            for (var bad : java.util.List.of(new VmEntity.Migrate("127.0.0.1:2552", -1, 30, moved.getRef()), new VmEntity.Migrate("127.0.0.1:2552", 50, 0, moved.getRef()))) {
                IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, bad::settings);
                assertTrue(e.getMessage().startsWith("the "), e.getMessage());
            }
            TestProbe<StatusReply<Done>> stopped = kit.createTestProbe();
            vm.tell(new VmEntity.Forward(new Vm.Stop("test", stopped.getRef())));
            assertTrue(stopped.receiveMessage(WAIT).isSuccess(), "a VM that does not run is stopped already");
        } finally {
            kit.shutdownTestKit();
        }
        // A new actor system on the same journal: the definition is recovered, and still taken.
        ActorTestKit kit2 = ActorTestKit.create("entity2", config());
        try {
            var vm = kit2.spawn(VmEntity.create("web-1", data, "127.0.0.1:2552"));
            VmEntity.Info recovered = info(kit2, vm);
            assertTrue(recovered.defined());
            assertEquals("127.0.0.1:2552", recovered.node());
            assertTrue(define(kit2, vm, definition("web-1")).isError());
            assertTrue(define(kit2, vm, definition("web-1"), "request-1").isSuccess(), "the defining request is journaled");
        } finally {
            kit2.shutdownTestKit();
        }
    }

    @Test
    void aVmTheJournalCallsRunningIsRunAgainWhereItsEntityRecovers() throws Exception {
        ActorTestKit kit = ActorTestKit.create("entity4", config());
        try {
            var vm = kit.spawn(VmEntity.create("web-1", data, "10.0.0.1:2551"));
            assertTrue(define(kit, vm, definition("web-1")).isSuccess());
            // What a runner on node 10.0.0.1 wrote before that node went away.
            TestProbe<Done> written = kit.createTestProbe();
            vm.tell(new VmEntity.Journaled(new io.actorvm.vmm.actors.journal.VmJournal.Record(VmEvents.placed("10.0.0.1:2551", "started", ""), written.getRef())));
            vm.tell(new VmEntity.Journaled(new io.actorvm.vmm.actors.journal.VmJournal.Record(VmEvents.started(), written.getRef())));
            written.receiveMessage(WAIT);
            written.receiveMessage(WAIT);
            assertEquals("not running", info(kit, vm).state(), "the journal says running, but no runner was made here");
        } finally {
            kit.shutdownTestKit();
        }
        // The entity recovers on another node: it records the failover and makes a runner there
        // (whose start fails here, with no KVM and no kernel; that is recorded too).
        ActorTestKit kit2 = ActorTestKit.create("entity5", config());
        try {
            kit2.spawn(VmEntity.create("web-1", data, "10.0.0.2:2551"));
            var read = org.apache.pekko.persistence.query.PersistenceQuery.get(kit2.system()).getReadJournalFor(
                    org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal.class,
                    org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal.Identifier());
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> read.currentEventsByPersistenceId("vm|web-1", 0, Long.MAX_VALUE)
                    .runWith(org.apache.pekko.stream.javadsl.Sink.seq(), kit2.system()).toCompletableFuture().get().stream()
                    .map(e -> (io.actorvm.persistence.proto.VmEvent) e.event())
                    .anyMatch(e -> e.hasPlaced() && e.getPlaced().getNode().equals("10.0.0.2:2551")
                            && e.getPlaced().getReason().equals("failover from 10.0.0.1:2551")));
        } finally {
            kit2.shutdownTestKit();
        }
    }

    /**
     * A move committed to node B, but the VM's entity starts on node C (its shard did not follow):
     * the runner B may have started from the commit stops first (release), and only then does C
     * run the VM. Until B answers, C runs nothing; when it does, C journals the placement.
     */
    @Test
    void anEntityStartingAwayFromTheMovesTargetHasTheTargetStopItsRunnerFirst() throws Exception {
        ActorTestKit kit = ActorTestKit.create("entity4", config());
        try {
            MoveTarget target = new MoveTarget();
            var released = new java.util.concurrent.CompletableFuture<Done>();
            target.answers.add(released);
            var vm = startAwayFromTheMove(kit, target);
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> !target.asked.isEmpty());
            assertEquals(java.util.List.of("127.0.0.1:2552 mover 1"), target.asked);
            Thread.sleep(300);
            assertEquals("not running", info(kit, vm).state(), "nothing runs here before the target let go");
            assertEquals(java.util.List.of(), target.placed, "nothing placed here before the target let go");

            released.complete(Done.getInstance());
            // Then it is run here, its placement journaled and its shard asked to stay here (the test's kernel does not exist, so that start fails).
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> target.placed.contains("mover 127.0.0.1:2553"));
        } finally {
            kit.shutdownTestKit();
        }
    }

    /** The target is up but its answer fails (timeout, lost message): asked again 2 s later, still nothing run meanwhile. */
    @Test
    void aTargetThatDoesNotConfirmIsAskedAgainAndNothingRunsUntilItDoes() throws Exception {
        ActorTestKit kit = ActorTestKit.create("entity5", config());
        try {
            MoveTarget target = new MoveTarget();
            target.answers.add(java.util.concurrent.CompletableFuture.failedFuture(new java.util.concurrent.TimeoutException("no answer in 5 s")));
            var second = new java.util.concurrent.CompletableFuture<Done>();
            target.answers.add(second);
            var vm = startAwayFromTheMove(kit, target);
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> target.asked.size() == 1);
            long first = System.nanoTime();
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> target.asked.size() == 2);
            long apart = (System.nanoTime() - first) / 1_000_000;
            assertTrue(apart >= 1500, "asked again " + apart + " ms after the failed answer, not at once");
            assertEquals(java.util.List.of("127.0.0.1:2552 mover 1", "127.0.0.1:2552 mover 1"), target.asked);
            assertEquals("not running", info(kit, vm).state());
            assertEquals(java.util.List.of(), target.placed, "nothing placed here while the target has not let go");

            second.complete(Done.getInstance());
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> target.placed.contains("mover 127.0.0.1:2553"));
            assertEquals(2, target.asked.size());
        } finally {
            kit.shutdownTestKit();
        }
    }

    /** The target's answer fails and then the target is no longer up (downed: it runs nothing): the VM runs here without asking again. */
    @Test
    void aTargetThatFailsToAnswerAndThenGoesDownIsNotWaitedFor() throws Exception {
        ActorTestKit kit = ActorTestKit.create("entity6", config());
        try {
            MoveTarget target = new MoveTarget();
            target.answers.add(java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException("the node is unreachable")));
            startAwayFromTheMove(kit, target);
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> target.asked.size() == 1);
            target.up = false;
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> target.placed.contains("mover 127.0.0.1:2553"));
            assertEquals(1, target.asked.size(), "a node that is down is not asked");
        } finally {
            kit.shutdownTestKit();
        }
    }

    /**
     * The move's target: its entity adopts the runner that arrived with the commit. That runner ran
     * the guest before the entity took it, so a console subscriber the entity heard of meanwhile is
     * attached with the output printed here so far (replay), not only from now on: the guest's
     * first lines on the new node are not lost.
     */
    @Test
    void theMovesTargetAdoptsTheArrivedRunnerWithTheConsoleOutputItPrintedSoFar() throws Exception {
        ActorTestKit kit = ActorTestKit.create("entity7", config());
        try {
            TestProbe<Vm.Command> arrived = kit.createTestProbe();
            TestProbe<Object> arrivalJournal = kit.createTestProbe();
            var claimed = new java.util.concurrent.CompletableFuture<VmHost.Arrival>();
            MoveTarget target = new MoveTarget() {
                @Override
                public java.util.concurrent.CompletionStage<VmHost.Arrival> claim(String vm, long epoch) {
                    return claimed;
                }
            };
            var vm = startOn(kit, target, "127.0.0.1:2552");
            TestProbe<io.actorvm.vmm.actors.console.ConsoleOutput> console = kit.createTestProbe();
            vm.tell(new VmEntity.Forward(new Vm.AttachConsole(console.getRef())));
            assertEquals("not running", info(kit, vm).state(), "nothing adopted before the claim answers");

            claimed.complete(new VmHost.Arrival(arrived.getRef(), arrivalJournal.getRef()));
            org.awaitility.Awaitility.await().atMost(WAIT).until(() -> target.placed.contains("mover 127.0.0.1:2552"));
            Vm.AttachConsole attach = arrived.expectMessageClass(Vm.AttachConsole.class, WAIT);
            assertEquals(console.getRef(), attach.subscriber());
            assertTrue(attach.replay(), "attached with what the arrived runner printed before it was adopted");
            arrivalJournal.expectMessageClass(JournalBuffer.Forward.class, WAIT);
        } finally {
            kit.shutdownTestKit();
        }
    }

    /**
     * Journals a counter VM "mover" that was running on 127.0.0.1:2551 and committed a live move to
     * 127.0.0.1:2552 (epoch 1), then starts its entity on 127.0.0.1:2553.
     */
    private ActorRef<VmEntity.Command> startAwayFromTheMove(ActorTestKit kit, MoveTarget target) {
        return startOn(kit, target, "127.0.0.1:2553");
    }

    /** As {@link #startAwayFromTheMove}, with the entity on {@code node}. */
    private ActorRef<VmEntity.Command> startOn(ActorTestKit kit, MoveTarget target, String node) {
        VmConfig config = new VmConfig("mover", Path.of("/guests/counter.elf"), "every=10", 16L << 20, 1);
        var journal = kit.spawn(io.actorvm.vmm.actors.journal.VmJournal.create("mover"));
        for (var e : java.util.List.of(VmEvents.defined(config), VmEvents.started(),
                VmEvents.migrated("127.0.0.1:2551", VmEntity.LEAVING, "snap-1", 1, 1000, "127.0.0.1:2552"))) {
            TestProbe<Done> written = kit.createTestProbe();
            journal.tell(new io.actorvm.vmm.actors.journal.VmJournal.Record(e, written.getRef()));
            written.receiveMessage(WAIT);
        }
        kit.stop(journal);
        return kit.spawn(VmEntity.create("mover", data, node, target));
    }

    /** The cluster as an entity away from its move's target sees it: the target's answers to release, in order. */
    private static class MoveTarget implements VmEntity.Placement {
        final java.util.Queue<java.util.concurrent.CompletableFuture<Done>> answers = new java.util.concurrent.ConcurrentLinkedQueue<>();
        final java.util.List<String> asked = new java.util.concurrent.CopyOnWriteArrayList<>(), placed = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile boolean up = true;

        @Override
        public boolean canHost(String node) {
            return up || !node.equals("127.0.0.1:2552");
        }

        @Override
        public java.util.concurrent.CompletionStage<Done> placeOn(String vm, String node) {
            placed.add(vm + " " + node);
            return java.util.concurrent.CompletableFuture.completedFuture(Done.getInstance());
        }

        @Override
        public java.util.concurrent.CompletionStage<java.net.InetSocketAddress> migrationEndpoint(String node) {
            return java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException("none"));
        }

        @Override
        public java.util.concurrent.CompletionStage<Done> release(String node, String vm, long epoch) {
            asked.add(node + " " + vm + " " + epoch);
            var answer = answers.poll();
            return answer != null ? answer : new java.util.concurrent.CompletableFuture<>();
        }
    }

    @Test
    void itsClusterMessagesCrossJvmsThroughKryo() {
        ActorTestKit kit = ActorTestKit.create("entity3", ConfigFactory.parseString("pekko.loglevel = WARNING").withFallback(ConfigFactory.load()));
        try {
            var serialization = SerializationExtension.get(kit.system().classicSystem());
            ActorRef<StatusReply<Done>> done = kit.<StatusReply<Done>>createTestProbe().getRef();
            Object[] messages = {new VmEntity.Define(definition("a"), "request-1", done), new VmEntity.Forward(new Vm.Start(done)),
                    new VmEntity.GetInfo(kit.<VmEntity.Info>createTestProbe().getRef()), new VmEntity.Migrate("127.0.0.1:2552", 200, 5, done),
                    new VmEntity.Info("a", definition("a"), "running", "127.0.0.1:2551", "snap-1", "round 2, 12 MiB sent"),
                    new VmHost.DefineHere("a", definition("a"), "request-1", done),
                    new VmHost.GetMigrationEndpoint(kit.<StatusReply<String>>createTestProbe().getRef()),
                    new VmHost.Committed("a", definition("a"), "snap-2", 3), new VmHost.Release("a", 3, done)};
            for (Object m : messages) {
                var serializer = serialization.findSerializerFor(m);
                assertInstanceOf(KryoSerializer.class, serializer, m.getClass().getName());
                Object back = serialization.deserialize(serialization.serialize(m).get(), serializer.identifier(),
                        Serializers.manifestFor(serializer, m)).get();
                assertEquals(m.getClass(), back.getClass());
                switch (back) {
                    case VmEntity.Define d -> assertArrayEquals(definition("a"), d.definition());
                    case VmEntity.Info i -> assertEquals("round 2, 12 MiB sent", i.migration());
                    case VmHost.DefineHere d -> assertArrayEquals(definition("a"), d.definition());
                    case VmHost.Committed c -> {
                        assertArrayEquals(definition("a"), c.definition());
                        assertEquals(3, c.epoch());
                    }
                    default -> assertEquals(m, back);
                }
            }
        } finally {
            kit.shutdownTestKit();
        }
    }
}
