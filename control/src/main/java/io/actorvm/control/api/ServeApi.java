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
 * GET    /nodes                   a cluster node's view of its cluster: each node's address and status
 * GET    /vms/{name}/console      its console output ({@code ?since=N}: from byte N on)
 * PUT    /vms/{name}/console/input {"data": "..."}: bytes for its console
 * GET    /vms/{name}/console/ws   its console as a WebSocket (output as binary messages, input as text)
 * GET    /vms/{name}/snapshots    its snapshots from its journal, oldest first
 * PUT    /vms/{name}/restore      {"snapshot_id": "..."}: stop it and start it again from that snapshot
 * PUT    /vms/{name}/migrate      {"to": "HOST:PORT"[, "downtime_ms": 50, "max_rounds": 30]}: a cluster node only: move the running VM to that node (202)
 * GET    /ui/                     the web console
 * GET    /openapi.json            all of it in OpenAPI 3.1
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
    private final WebConsole web;
    /** A listing shows no counters for a VM that does not answer this fast, rather than wait on it. */
    private static final java.time.Duration STATS_TIMEOUT = java.time.Duration.ofSeconds(1);
    /**
     * A listing shows "unknown" for a VM whose state does not come within this time (in a cluster:
     * its node went away and its shard has not moved yet) rather than outlast the request.
     */
    private static final java.time.Duration LIST_TIMEOUT = java.time.Duration.ofSeconds(5);
    /** How long a node's listing waits for the entity of a VM it has not entered yet (see {@link #listing}). */
    private static final java.time.Duration FIND_IN_LISTING = java.time.Duration.ofSeconds(8);

    private ServeApi(ActorSystem<?> system, VmDirectory vms, ApiEndpoint endpoint) {
        this.system = system;
        this.vms = vms;
        this.endpoint = endpoint;
        this.web = new WebConsole(system);
    }

    /**
     * The one VM of a {@code run} process with its web console: {@code serve}'s routes for a
     * directory of just this VM, and the single-VM API at the root as {@code run} serves it.
     */
    public static ControlApi.Binding bindWithWebConsole(ActorSystem<?> system, String name, MicroVm instance, ConsoleTail console,
                                                        ApiEndpoint endpoint) throws IOException {
        ServeApi api = new ServeApi(system, VmDirectory.single(name, instance, console), endpoint);
        return ControlApi.bind(system, ControlApi.framed(system, endpoint,
                () -> api.concat(api.routes(), ControlApi.routesOf(system, instance, endpoint))), endpoint);
    }

    /** Serves the VMs of {@code vms} at {@code endpoint}. */
    public static ControlApi.Binding bind(ActorSystem<?> system, VmDirectory vms, ApiEndpoint endpoint) throws IOException {
        ServeApi api = new ServeApi(system, vms, endpoint);
        return ControlApi.bind(system, ControlApi.framed(system, endpoint, api::routes), endpoint);
    }

    /**
     * {@code serve}'s API in OpenAPI 3.1: its own routes ({@code serve-openapi.json}) and, under
     * {@code /vms/{name}}, every route of the single-VM document, whose components it shares.
     */
    static final byte[] OPENAPI = openApi();

    private static byte[] openApi() {
        try (var own = ServeApi.class.getResourceAsStream("serve-openapi.json")) {
            if (own == null) throw new IllegalStateException("serve-openapi.json is missing from the control module");
            var json = ApiFaults.json();
            var doc = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(own);
            var single = json.readTree(ControlApi.OPENAPI);
            var paths = (com.fasterxml.jackson.databind.node.ObjectNode) doc.get("paths");
            single.get("paths").fields().forEachRemaining(p -> {
                if (!p.getKey().equals("/openapi.json")) paths.set("/vms/{name}" + p.getKey(), p.getValue());
            });
            var components = (com.fasterxml.jackson.databind.node.ObjectNode) doc.get("components");
            single.get("components").fields().forEachRemaining(c -> {
                var mine = (com.fasterxml.jackson.databind.node.ObjectNode) components.get(c.getKey());
                if (mine == null) components.set(c.getKey(), c.getValue());
                else c.getValue().fields().forEachRemaining(e -> mine.set(e.getKey(), e.getValue()));
            });
            return json.writeValueAsBytes(doc);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    record CreateRequest(String name) {}

    record ConsoleInput(String data) {}

    /** A move: the node, and optionally the downtime target (ms, default 50) and the round limit (default 30). */
    record MigrateRequest(String to, @com.fasterxml.jackson.annotation.JsonProperty("downtime_ms") Long downtimeMs,
                          @com.fasterxml.jackson.annotation.JsonProperty("max_rounds") Integer maxRounds) {}

    record RestoreRequest(@com.fasterxml.jackson.annotation.JsonProperty("snapshot_id") String snapshotId) {}

    Route routes() {
        return concat(
                path("openapi.json", () -> get(() -> complete(HttpResponse.create().withStatus(StatusCodes.OK)
                        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, OPENAPI))))),
                web.pages(),
                path("nodes", () -> get(() -> vms.remote() == null
                        ? complete(ApiFaults.fault(StatusCodes.NOT_FOUND, "this VMM is not a cluster node (actorvm node)"))
                        : json(vms.remote().nodes()))),
                path("vms", () -> concat(
                        get(() -> parameterOptional("name", only -> onSuccess(listing(only.orElse(null)), this::json))),
                        post(() -> entity(Unmarshaller.entityToString(), this::create)))),
                pathPrefix(PathMatchers.segment("vms").slash(PathMatchers.segment()), name -> {
                    VmDirectory.Entry e = vms.get(name);
                    if (e == null && vms.remote() != null) {
                        return onSuccess(find(name), found -> found == null
                                ? complete(ApiFaults.fault(StatusCodes.NOT_FOUND, "no VM named " + name)) : vmRoutes(found));
                    }
                    if (e == null) return complete(ApiFaults.fault(StatusCodes.NOT_FOUND, "no VM named " + name));
                    return vmRoutes(e);
                }));
    }

    /** A VM of the cluster this node has not shown yet, entered into the directory (null: no such VM). */
    private CompletionStage<VmDirectory.Entry> find(String name) {
        return vms.remote().find(name).thenApply(found -> found == null ? null : vms.adopt(found));
    }

    private Route vmRoutes(VmDirectory.Entry e) {
        String name = e.name();
        return concat(
                pathEnd(() -> delete(() -> onSuccess(remove(e), done -> complete(StatusCodes.NO_CONTENT)))),
                path("console", () -> get(() -> parameterOptional("since", since -> console(e, since.orElse("0"))))),
                path(PathMatchers.segment("console").slash("input"), () -> put(() ->
                        entity(Unmarshaller.entityToString(), body -> input(e, body)))),
                path(PathMatchers.segment("console").slash("ws"), () -> get(() -> web.consoleSocket(e))),
                path("snapshots", () -> get(() -> onSuccess(snapshots(e.name()), this::json))),
                path("migrate", () -> put(() -> entity(Unmarshaller.entityToString(), body -> migrate(e, body)))),
                path("restore", () -> put(() -> withRequestTimeout(ControlApi.SNAPSHOT_TIMEOUT.plusSeconds(5), () ->
                        entity(Unmarshaller.entityToString(), body -> restore(e, body))))),
                routes.computeIfAbsent(name, n -> ControlApi.routesOf(system, e.instance(), endpoint)));
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

    /**
     * Every VM, in the order they were created, with its state: "not started", or the running VM's own.
     * On a node, every VM of the cluster with the node it lives on; a VM not entered here yet whose
     * entity does not answer within {@link #FIND_IN_LISTING} is listed last, as "unknown" (its node is
     * starting or went away), so that the listing answers within about that plus
     * {@link #LIST_TIMEOUT}, inside the API's request timeout, however slow the cluster is. With
     * {@code only} (not null), VM {@code only} alone, asking no other VM: what a client polls while
     * it waits on one VM ({@code vm migrate}).
     */
    private CompletionStage<List<Map<String, Object>>> listing(String only) {
        java.util.function.Predicate<String> wanted = only == null ? n -> true : only::equals;
        VmDirectory.Remote remote = vms.remote();
        if (remote == null) return listingOf(vms.list().stream().filter(e -> wanted.test(e.name())).toList());
        return remote.names().thenCompose(names -> {
            List<String> unanswered = java.util.Collections.synchronizedList(new ArrayList<>());
            CompletableFuture<?>[] finds = names.stream().filter(n -> wanted.test(n) && vms.get(n) == null).map(n -> find(n).toCompletableFuture()
                            .thenApply(entry -> true) // null too: the name is no VM's now, and is not listed
                            .completeOnTimeout(false, FIND_IN_LISTING.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                            .exceptionally(t -> false)
                            .thenAccept(answered -> {
                                if (!answered) unanswered.add(n);
                            }))
                    .toArray(CompletableFuture[]::new);
            return CompletableFuture.allOf(finds).thenCompose(v -> {
                List<VmDirectory.Entry> entries = vms.list().stream().filter(e -> wanted.test(e.name())).toList();
                // States and places are asked side by side: each has its own timeout.
                Map<String, CompletableFuture<VmDirectory.Remote.Place>> places = new LinkedHashMap<>();
                for (VmDirectory.Entry e : entries) {
                    places.put(e.name(), remote.placeOf(e.name()).toCompletableFuture().exceptionally(t -> new VmDirectory.Remote.Place("", "")));
                }
                return listingOf(entries).thenCompose(states -> CompletableFuture.allOf(places.values().toArray(CompletableFuture[]::new))
                        .thenApply(done -> {
                            List<Map<String, Object>> out = new ArrayList<>();
                            for (Map<String, Object> state : states) {
                                VmDirectory.Remote.Place place = places.get((String) state.get("name")).join();
                                Map<String, Object> withNode = new LinkedHashMap<>(state);
                                withNode.put("node", place.node());
                                if (!place.migration().isEmpty()) withNode.put("migration", place.migration());
                                out.add(withNode);
                            }
                            unanswered.stream().filter(n -> vms.get(n) == null).sorted()
                                    .forEach(n -> out.add(Map.of("name", n, "state", "unknown", "node", "")));
                            return out;
                        }));
            });
        });
    }

    private CompletionStage<List<Map<String, Object>>> listingOf(List<VmDirectory.Entry> entries) {
        List<CompletableFuture<Map<String, Object>>> states = new ArrayList<>();
        for (VmDirectory.Entry e : entries) {
            boolean started = e.instance().started();
            CompletableFuture<String> state = !started ? CompletableFuture.completedFuture("not started")
                    : AskPattern.<Vm.Command, Vm.Status>ask(e.instance().vm(), Vm.GetStatus::new, LIST_TIMEOUT, system.scheduler())
                    .thenApply(s -> s.state().name().toLowerCase()).toCompletableFuture().exceptionally(t -> "unknown");
            CompletableFuture<Vm.Stats> stats = !started ? CompletableFuture.completedFuture(null)
                    : AskPattern.<Vm.Command, Vm.Stats>ask(e.instance().vm(), Vm.GetStats::new, STATS_TIMEOUT, system.scheduler())
                    .toCompletableFuture().exceptionally(t -> null);
            var machine = e.instance().machineConfig();
            java.time.Instant since = e.instance().startedAt();
            states.add(state.thenCombine(stats, (s, st) -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", e.name());
                m.put("state", s);
                m.put("vcpus", machine.vcpuCount());
                m.put("mem_mib", machine.memSizeMib());
                m.put("uptime_s", since == null ? 0 : java.time.Duration.between(since, java.time.Instant.now()).toSeconds());
                m.put("exits", st == null ? 0 : st.io().getOrDefault("exits", 0L));
                m.put("io_bytes", st == null ? 0 : ioBytes(st));
                m.put("console_bytes", e.console().total());
                return m;
            }));
        }
        return CompletableFuture.allOf(states.toArray(CompletableFuture[]::new)).thenApply(v -> states.stream().map(CompletableFuture::join).toList());
    }

    /** The VM's snapshots; none when this VMM keeps no journal (a {@code run} without a data directory). */
    private CompletionStage<List<VmHistory.Snapshot>> snapshots(String name) {
        if (!system.settings().config().hasPath("jdbc-read-journal")) return CompletableFuture.completedFuture(List.of());
        return VmHistory.snapshots(system, name);
    }

    /** Bytes the VM's devices moved (disk reads and writes, frames sent and received). */
    static long ioBytes(Vm.Stats stats) {
        long sum = 0;
        for (var d : stats.devices()) {
            for (var c : d.counters().entrySet()) if (c.getKey().toLowerCase().contains("bytes")) sum += c.getValue();
        }
        return sum;
    }

    /** A cluster node only: the VM moves to another node (202 once the move is under way). */
    private Route migrate(VmDirectory.Entry e, String body) {
        if (vms.remote() == null) return complete(ApiFaults.fault(StatusCodes.NOT_FOUND, "this VMM is not a cluster node (actorvm node)"));
        MigrateRequest request;
        try {
            request = ApiFaults.json().readerFor(MigrateRequest.class).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .readValue(body.isBlank() ? "null" : body);
            if (request == null || request.to() == null) throw new IllegalArgumentException("a move is {\"to\": \"HOST:PORT\"}");
        } catch (JsonProcessingException x) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "malformed migrate request: " + x.getOriginalMessage()));
        } catch (IllegalArgumentException x) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, x.getMessage()));
        }
        var defaults = io.actorvm.vmm.actors.migration.PreCopy.Settings.DEFAULT;
        long downtime = request.downtimeMs() == null ? defaults.downtime().toMillis() : request.downtimeMs();
        int rounds = request.maxRounds() == null ? defaults.maxRounds() : request.maxRounds();
        return onComplete(vms.remote().migrate(e.name(), request.to(), downtime, rounds), done -> done.isSuccess()
                ? json(StatusCodes.ACCEPTED, Map.of("name", e.name(), "moving_to", request.to()))
                : complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, rootMessage(done.failed().get()))));
    }

    /** Restore from here: the VM stops and starts again from one of its snapshots. */
    private Route restore(VmDirectory.Entry e, String body) {
        RestoreRequest request;
        try {
            request = ApiFaults.json().readerFor(RestoreRequest.class).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .readValue(body.isBlank() ? "null" : body);
            if (request == null || request.snapshotId() == null) throw new IllegalArgumentException("a restore is {\"snapshot_id\": \"ID\"}");
        } catch (JsonProcessingException x) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "malformed restore request: " + x.getOriginalMessage()));
        } catch (IllegalArgumentException x) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, x.getMessage()));
        }
        return onSuccess(snapshots(e.name()), known -> {
            if (known.stream().noneMatch(s -> s.id().equals(request.snapshotId()))) {
                return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "VM " + e.name() + " has no snapshot " + request.snapshotId()));
            }
            try {
                return onComplete(e.instance().restoreInPlace(request.snapshotId(), old -> AskPattern.<Vm.Command, StatusReply<Done>>ask(old,
                        r -> new Vm.Stop("restoring snapshot " + request.snapshotId(), r), ControlApi.COMMAND_TIMEOUT, system.scheduler())),
                        done -> done.isSuccess() ? complete(StatusCodes.NO_CONTENT)
                                : complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "restore failed: " + rootMessage(done.failed().get()))));
            } catch (MicroVm.NotAllowed x) {
                return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, x.getMessage()));
            }
        });
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException || t.getMessage() == null)) t = t.getCause();
        return t.getMessage() != null ? t.getMessage() : t.toString();
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
