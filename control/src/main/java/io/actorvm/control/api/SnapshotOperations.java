package io.actorvm.control.api;

import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.pattern.StatusReply;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Snapshots as operations a client can poll, so that none depends on an HTTP request living as
 * long as the snapshot: {@link #start} answers at once with the operation, {@link #get} tells how
 * it went. At most one snapshot runs: asking for the same kind while one runs (a client retrying
 * after its connection dropped) joins it instead of starting a second. The newest
 * {@value #KEPT} finished operations stay queryable.
 */
final class SnapshotOperations {
    static final int KEPT = 32;

    /** One operation as the API reports it: state is running, succeeded or failed. */
    record Operation(String id, String kind, boolean full, String state, Vm.SnapshotInfo result, String faultMessage) {}

    /** A snapshot of the other kind is running. */
    static final class Busy extends RuntimeException {
        Busy(String message) {
            super(message);
        }
    }

    record Running(String id, boolean full, CompletableFuture<Vm.SnapshotInfo> result) {}

    private final AtomicLong next = new AtomicLong(1);
    private final Map<String, Running> operations = new LinkedHashMap<>();
    private Running current;

    /** Starts a snapshot through {@code take} unless one runs already; returns the operation and its result. */
    synchronized Running start(boolean full, Supplier<CompletionStage<StatusReply<Vm.SnapshotInfo>>> take) {
        if (current != null && !current.result().isDone()) {
            if (current.full() != full) {
                throw new Busy("a " + (current.full() ? "full" : "incremental") + " snapshot is being taken (operation "
                        + current.id() + "); ask again when it is done");
            }
            return current;
        }
        Running op = new Running("snapshot-" + next.getAndIncrement(), full, new CompletableFuture<>());
        take.get().whenComplete((reply, failure) -> {
            if (failure != null) op.result().completeExceptionally(failure);
            else if (reply.isError()) op.result().completeExceptionally(reply.getError());
            else op.result().complete(reply.getValue());
        });
        operations.put(op.id(), op);
        while (operations.size() > KEPT) operations.remove(operations.keySet().iterator().next());
        current = op;
        return op;
    }

    synchronized Operation get(String id) {
        Running op = operations.get(id);
        return op == null ? null : describe(op);
    }

    static Operation describe(Running op) {
        CompletableFuture<Vm.SnapshotInfo> f = op.result();
        if (!f.isDone()) return new Operation(op.id(), "snapshot", op.full(), "running", null, null);
        if (f.isCompletedExceptionally()) {
            Throwable t = f.exceptionNow();
            return new Operation(op.id(), "snapshot", op.full(), "failed", null, t.getMessage() != null ? t.getMessage() : t.toString());
        }
        return new Operation(op.id(), "snapshot", op.full(), "succeeded", f.resultNow(), null);
    }
}
