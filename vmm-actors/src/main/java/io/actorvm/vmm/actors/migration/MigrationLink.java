package io.actorvm.vmm.actors.migration;

import io.actorvm.persistence.proto.MigrationFrame;
import io.actorvm.persistence.proto.MigrationReply;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Framing;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The connection a live migration runs over: Pekko Streams TCP, one length-prefixed protobuf
 * frame after another (never an Artery message: a guest's RAM would not fit one, and the stream's
 * back-pressure paces reading guest memory to what the link takes). The source {@link #send}s a
 * {@link PreCopy}'s frames and half-closes; the target ({@link #listen}) answers once with the
 * snapshot it stored, or the reason it did not.
 */
public final class MigrationLink {
    /** The largest frame: a page frame is 1 MiB of pages and their numbers; a state frame is device and vCPU registers. */
    static final int MAX_FRAME = 8 << 20;
    /** A link that carries nothing for this long is dead (the other side is gone without a word). */
    static final Duration IDLE = Duration.ofSeconds(30);
    private static final String BLOCKING = "pekko.actor.default-blocking-io-dispatcher";
    /**
     * Socket buffers of each side. What sits in them (and in the streams' buffers) when the guest
     * pauses must still reach the target before the state can: downtime, whenever the target takes
     * frames more slowly than the link carries them (it writes and forces them to disk). Linux's
     * autotuned loopback buffers hold several MiB; 1 MiB a side still fills a 10 Gbit/s link at
     * 1 ms round trip.
     */
    static final int SOCKET_BUFFER = 1 << 20;
    /** One element per stream buffer: a page frame is up to 1 MiB, and Pekko's default buffers 16. */
    private static final org.apache.pekko.stream.Attributes ONE_FRAME = org.apache.pekko.stream.Attributes.inputBuffer(1, 1);

    private MigrationLink() {}

    /** A migration under way: its answer (the target's snapshot id), and its abort. */
    public static final class Sending {
        private final java.util.concurrent.CompletableFuture<String> answer = new java.util.concurrent.CompletableFuture<>();
        private final UniqueKillSwitch frames;

        private Sending(CompletionStage<String> reply, UniqueKillSwitch frames) {
            this.frames = frames;
            reply.whenComplete((id, failure) -> {
                if (failure != null) answer.completeExceptionally(failure);
                else answer.complete(id);
            });
        }

        /** The id of the snapshot the target stored; fails as the migration does. */
        public CompletionStage<String> snapshotId() {
            return answer;
        }

        /**
         * Ends the migration now: no more frames go, and the answer fails with {@code why} even when
         * every frame went already and the target's answer is still awaited.
         */
        public void abort(Throwable why) {
            answer.completeExceptionally(why);
            frames.abort(why);
        }
    }

    /**
     * Sends {@code frames} to the target at {@code target}; completes with the id of the snapshot the
     * target stored, or fails (connection refused or lost, the target's refusal, {@link Sending#abort}).
     */
    public static Sending send(ActorSystem<?> system, InetSocketAddress target, PreCopy frames) {
        Flow<ByteString, ByteString, ?> tcp = Tcp.get(system).outgoingConnection(target, Optional.empty(),
                List.of(org.apache.pekko.io.TcpSO.sendBufferSize(SOCKET_BUFFER), org.apache.pekko.io.TcpSO.receiveBufferSize(SOCKET_BUFFER)),
                true, Optional.of(Duration.ofSeconds(10)), Optional.of(IDLE));
        var pair = Source.fromIterator(() -> frames)
                .map(f -> ByteString.fromArrayUnsafe(f.toByteArray()))
                // Reading guest memory and waiting for the pause block: not on the default dispatcher.
                .withAttributes(ActorAttributes.dispatcher(BLOCKING))
                .viaMat(KillSwitches.single(), Keep.right())
                .via(Framing.simpleFramingProtocol(MAX_FRAME).join(tcp))
                .map(b -> MigrationReply.parseFrom(b.toArrayUnsafe()))
                .toMat(Sink.headOption(), Keep.both())
                .addAttributes(ONE_FRAME)
                .run(system);
        CompletionStage<String> answer = pair.second().thenApply(reply -> {
            if (reply.isEmpty()) throw new IllegalStateException("the target closed the connection without an answer");
            if (reply.get().hasError()) throw new IllegalStateException("the target refused: " + reply.get().getError());
            return reply.get().getSnapshotId();
        });
        return new Sending(answer, pair.first());
    }

    /**
     * Takes migrations on {@code host} (any free port): each connection's frames become a snapshot in
     * {@code store} ({@link IncomingMigration}). Completes with the address bound.
     */
    public static CompletionStage<InetSocketAddress> listen(ActorSystem<?> system, String host, SnapshotStore store) {
        return listen(system, host, 0, store);
    }

    /**
     * Takes migrations on {@code host:port} (0: any free port). Partial memory files that dead
     * receivers left in the store's directory are deleted first ({@link IncomingMigration#sweep}).
     */
    public static CompletionStage<InetSocketAddress> listen(ActorSystem<?> system, String host, int port, SnapshotStore store) {
        int swept = IncomingMigration.sweep(store.dataDir());
        if (swept > 0) system.log().info("deleted {} partial migration file(s) no migration is receiving", swept);
        // The receive buffer is set on the listening socket, so that accepted ones start with it.
        return Tcp.get(system).bind(host, port, 100, List.of(org.apache.pekko.io.TcpSO.receiveBufferSize(SOCKET_BUFFER)), false, Optional.empty())
                .to(Sink.foreach(connection -> {
            IncomingMigration incoming = new IncomingMigration(store);
            connection.handleWith(Framing.simpleFramingProtocol(MAX_FRAME).reversed().join(receiver(system, incoming))
                    .addAttributes(ONE_FRAME), system);
        })).run(system).thenApply(binding -> binding.localAddress());
    }

    /** One connection's frames into {@code incoming}, and its one answer. */
    private static Flow<ByteString, ByteString, ?> receiver(ActorSystem<?> system, IncomingMigration incoming) {
        return Flow.of(ByteString.class)
                // A connection that fails (the link cut, the source reset) leaves nothing: the failure
                // may reach this stage only, the rest of the flow being cancelled by the TCP stage.
                // (A clean end goes through the fold: finish, or its refusal below.)
                .watchTermination((mat, done) -> {
                    done.whenComplete((d, failure) -> {
                        if (failure != null) incoming.discard();
                    });
                    return mat;
                })
                .idleTimeout(IDLE)
                .map(b -> MigrationFrame.parseFrom(b.toArrayUnsafe()))
                .fold(incoming, (in, frame) -> {
                    in.accept(frame);
                    return in;
                })
                .map(in -> MigrationReply.newBuilder().setSnapshotId(in.finish()).build())
                // Anything that ends it early (a bad frame, the source gone, a full disk): nothing is kept.
                .recover(new PFBuilder<Throwable, MigrationReply>().matchAny(e -> {
                    incoming.discard();
                    String why = e.getMessage() != null ? e.getMessage() : e.toString();
                    system.log().warn("incoming migration of {} ended, discarded: {}", incoming.vmName(), why);
                    return MigrationReply.newBuilder().setError(why).build();
                }).build())
                .withAttributes(ActorAttributes.dispatcher(BLOCKING))
                .map(reply -> ByteString.fromArrayUnsafe(reply.toByteArray()));
    }
}
