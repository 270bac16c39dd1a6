package io.actorvm.control.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.pattern.StatusReply;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The API of {@code actorvm serve}: many VMs in one process, each addressed by name.
 * <pre>
 * POST   /vms                     {"name": "web-1"}: a new VM, unconfigured (201)
 * GET    /vms                     every VM with its state
 * DELETE /vms/{name}              stop the VM (if it runs) and forget it
 * GET    /vms/{name}/console      its console output ({@code ?since=N}: from byte N on)
 * PUT    /vms/{name}/console/input {"data": "..."}: bytes for its console
 * ...    /vms/{name}/...          every route of a single VM's API: Firecracker's (boot-source,
 *                                 machine-config, drives, actions, snapshot/create|load, ...) and actorvm's
 * </pre>
 */
public final class ServeApi extends AllDirectives {
    private final ActorSystem<?> system;
    private final VmDirectory vms;
    private final ApiEndpoint endpoint;
    /** Each VM's routes, built once: they hold its snapshot operations. */
    private final Map<String, Route> routes = new ConcurrentHashMap<>();

    private ServeApi(ActorSystem<?> system, VmDirectory vms, ApiEndpoint endpoint) {
        this.system = system;
        this.vms = vms;
        this.endpoint = endpoint;
    }

    /** Serves the VMs of {@code vms} at {@code endpoint}. */
    public static ControlApi.Binding bind(ActorSystem<?> system, VmDirectory vms, ApiEndpoint endpoint) throws IOException {
        ServeApi api = new ServeApi(system, vms, endpoint);
        return ControlApi.bind(system, ControlApi.framed(system, endpoint, api::routes), endpoint);
    }

    record CreateRequest(String name) {}

    record ConsoleInput(String data) {}

    Route routes() {
        return concat(
                path("vms", () -> concat(
                        get(() -> onSuccess(listing(), this::json)),
                        post(() -> entity(Unmarshaller.entityToString(), this::create)))),
                pathPrefix(PathMatchers.segment("vms").slash(PathMatchers.segment()), name -> {
                    VmDirectory.Entry e = vms.get(name);
                    if (e == null) return complete(ApiFaults.fault(StatusCodes.NOT_FOUND, "no VM named " + name));
                    return concat(
                            pathEnd(() -> delete(() -> onSuccess(remove(e), done -> complete(StatusCodes.NO_CONTENT)))),
                            path("console", () -> get(() -> parameterOptional("since", since -> console(e, since.orElse("0"))))),
                            path(PathMatchers.segment("console").slash("input"), () -> put(() ->
                                    entity(Unmarshaller.entityToString(), body -> input(e, body)))),
                            routes.computeIfAbsent(name, n -> ControlApi.routesOf(system, e.instance(), endpoint)));
                }));
    }

    private Route create(String body) {
        CreateRequest request;
        try {
            request = ApiFaults.json().readerFor(CreateRequest.class).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .readValue(body.isBlank() ? "null" : body);
            if (request == null) throw new IllegalArgumentException("POST /vms takes {\"name\": \"NAME\"}");
            VmDirectory.Entry e = vms.create(request.name());
            return respondWithHeader(Location.create("/vms/" + e.name()), () -> json(StatusCodes.CREATED, Map.of("name", e.name())));
        } catch (JsonProcessingException e) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "malformed VM request: " + e.getOriginalMessage()));
        } catch (IllegalArgumentException e) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, e.getMessage()));
        } catch (VmDirectory.Conflict e) {
            return complete(ApiFaults.fault(StatusCodes.CONFLICT, e.getMessage()));
        }
    }

    /** Every VM, in the order they were created, with its state: "not started", or the running VM's own. */
    private CompletionStage<List<Map<String, Object>>> listing() {
        List<CompletableFuture<Map<String, Object>>> states = new ArrayList<>();
        for (VmDirectory.Entry e : vms.list()) {
            CompletableFuture<String> state = !e.instance().started() ? CompletableFuture.completedFuture("not started")
                    : AskPattern.<Vm.Command, Vm.Status>ask(e.instance().vm(), Vm.GetStatus::new, ControlApi.COMMAND_TIMEOUT, system.scheduler())
                    .thenApply(s -> s.state().name().toLowerCase()).toCompletableFuture().exceptionally(t -> "unknown");
            states.add(state.thenApply(s -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", e.name());
                m.put("state", s);
                m.put("console_bytes", e.console().total());
                return m;
            }));
        }
        return CompletableFuture.allOf(states.toArray(CompletableFuture[]::new)).thenApply(v -> states.stream().map(CompletableFuture::join).toList());
    }

    /** Stops the VM if it runs (a VM that already ended just goes), then forgets it. */
    private CompletionStage<Done> remove(VmDirectory.Entry e) {
        CompletionStage<Done> stopped = !e.instance().started() ? CompletableFuture.completedFuture(Done.getInstance())
                : AskPattern.<Vm.Command, StatusReply<Done>>ask(e.instance().vm(), r -> new Vm.Stop("deleted through the API", r),
                        ControlApi.COMMAND_TIMEOUT, system.scheduler()).thenApply(r -> Done.getInstance());
        return stopped.thenApply(d -> {
            vms.remove(e.name());
            routes.remove(e.name());
            return d;
        });
    }

    private Route console(VmDirectory.Entry e, String since) {
        long from;
        try {
            from = Long.parseLong(since);
        } catch (NumberFormatException x) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "since must be a byte offset, not " + since));
        }
        ConsoleTail.Read read = e.console().since(from);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("from", read.from());
        body.put("total", read.total());
        body.put("text", new String(read.bytes(), StandardCharsets.UTF_8));
        return json(StatusCodes.OK, body);
    }

    private Route input(VmDirectory.Entry e, String body) {
        try {
            ConsoleInput in = ApiFaults.json().readerFor(ConsoleInput.class).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .readValue(body.isBlank() ? "null" : body);
            if (in == null || in.data() == null) throw new IllegalArgumentException("console input is {\"data\": \"...\"}");
            e.instance().vm().tell(new Vm.ConsoleInput(in.data().getBytes(StandardCharsets.UTF_8)));
            return complete(StatusCodes.NO_CONTENT);
        } catch (JsonProcessingException x) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "malformed console input: " + x.getOriginalMessage()));
        } catch (IllegalArgumentException | MicroVm.NotAllowed x) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, x.getMessage()));
        }
    }

    private Route json(Object body) {
        return json(StatusCodes.OK, body);
    }

    private Route json(StatusCode status, Object body) {
        try {
            return complete(HttpResponse.create().withStatus(status)
                    .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, ApiFaults.json().writeValueAsBytes(body))));
        } catch (JsonProcessingException x) {
            throw new IllegalStateException(x);
        }
    }
}
