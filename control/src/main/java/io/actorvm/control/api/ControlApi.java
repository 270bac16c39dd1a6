package io.actorvm.control.api;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.marshallers.jackson.Jackson;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.pattern.StatusReply;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The control API of a running VMM, HTTP/JSON on a loopback address, Firecracker style: a thin
 * client of the same actor protocol an embedding program uses.
 *
 * <pre>
 * GET /vm               status
 * PUT /vm/pause         pause the vCPUs
 * PUT /vm/resume
 * PUT /vm/stop
 * PUT /snapshot/create  take a snapshot (?type=full forces a full one); the reply names it
 * </pre>
 * Errors are JSON {@code {"fault_message": "..."}} with status 400 (refused) or 500.
 */
public final class ControlApi extends AllDirectives {
    static final Duration SNAPSHOT_TIMEOUT = Duration.ofMinutes(10), COMMAND_TIMEOUT = Duration.ofSeconds(30);

    private final ActorSystem<?> system;
    private final ActorRef<Vm.Command> vm;

    private ControlApi(ActorSystem<?> system, ActorRef<Vm.Command> vm) {
        this.system = system;
        this.vm = vm;
    }

    /** Serves the API for {@code vm} on {@code host:port}. */
    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, ActorRef<Vm.Command> vm, String host, int port) {
        // No bytes flow while a snapshot is taken: pekko-http's idle timeout (60 s) would close the
        // connection under a slow snapshot, and the client would see an empty reply. It outlasts
        // the snapshot's own time budget here.
        ServerSettings settings = ServerSettings.create(ConfigFactory.parseString(
                "pekko.http.server.idle-timeout = " + SNAPSHOT_TIMEOUT.plusSeconds(30).toSeconds() + "s")
                .withFallback(system.settings().config()));
        return Http.get(system).newServerAt(host, port).withSettings(settings).bind(new ControlApi(system, vm).routes());
    }

    Route routes() {
        return concat(
                path("vm", () -> get(() -> onSuccess(ask(Vm.GetStatus::new, COMMAND_TIMEOUT),
                        s -> complete(StatusCodes.OK, Map.of("name", s.name(), "state", s.state().name().toLowerCase(),
                                "termination", s.termination() == null ? "" : s.termination().reason()), Jackson.marshaller())))),
                pathPrefix("vm", () -> concat(
                        path("pause", () -> put(() -> lifecycle(Vm.Pause::new))),
                        path("resume", () -> put(() -> lifecycle(Vm.Resume::new))),
                        path("stop", () -> put(() -> lifecycle(r -> new Vm.Stop("stopped through the control API", r)))))),
                // A full snapshot of a large guest outlasts pekko-http's default 20 s request
                // timeout (which answers 503 while the snapshot goes on): wait as long as the ask does.
                path(org.apache.pekko.http.javadsl.server.PathMatchers.segment("snapshot").slash("create"), () -> put(() ->
                        withRequestTimeout(SNAPSHOT_TIMEOUT.plusSeconds(5), () -> parameterOptional("type", type -> onSuccess(this.<StatusReply<Vm.SnapshotInfo>>ask(
                                r -> new Vm.TakeSnapshot(type.map("full"::equals).orElse(false), r), SNAPSHOT_TIMEOUT), reply -> reply.isSuccess()
                                ? complete(StatusCodes.OK, reply.getValue(), Jackson.marshaller())
                                : complete(StatusCodes.BAD_REQUEST, Map.of("fault_message", reply.getError().getMessage()), Jackson.marshaller())))))));
    }

    private Route lifecycle(java.util.function.Function<ActorRef<StatusReply<Done>>, Vm.Command> command) {
        return onSuccess(this.<StatusReply<Done>>ask(command, COMMAND_TIMEOUT), reply -> reply.isSuccess()
                ? complete(StatusCodes.NO_CONTENT)
                : complete(StatusCodes.BAD_REQUEST, Map.of("fault_message", reply.getError().getMessage()), Jackson.marshaller()));
    }

    private <T> CompletionStage<T> ask(java.util.function.Function<ActorRef<T>, Vm.Command> command, Duration timeout) {
        return AskPattern.ask(vm, command::apply, timeout, system.scheduler());
    }
}
