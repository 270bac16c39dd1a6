package io.actorvm.control.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.marshallers.jackson.Jackson;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.pattern.StatusReply;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The control API of a running VMM, HTTP/JSON on a Unix domain socket (or TCP when asked, see
 * {@link ApiEndpoint}), Firecracker style: a thin client of the same actor protocol an embedding
 * program uses.
 *
 * <pre>
 * GET  /vm                   status
 * GET  /metrics              the VM's exit, I/O and device metrics as Prometheus text
 * GET  /openapi.json         this list as an OpenAPI 3.1 document
 * PUT  /vm/pause             pause the vCPUs
 * PUT  /vm/resume
 * PUT  /vm/stop
 * PUT  /snapshot/create      take a snapshot and wait for it; the reply names it
 * POST /operations/snapshot  start one and answer at once (202) with the operation to poll
 * GET  /operations/{id}      how an operation went: running, succeeded (with its result) or failed
 * GET  /debug/...            a paused VM's registers and memory; PUT /debug/step steps a vCPU ({@link DebugRoutes})
 * </pre>
 * A snapshot request takes {@code {"type": "full"}} or {@code {"type": "incremental"}} as its body
 * (or {@code ?type=full}); without either, the first snapshot is full and the next incremental.
 * One snapshot runs at a time: asking again for the same kind joins it (a retry never starts a
 * second one), asking for the other kind meanwhile is 409.
 *
 * <p>Every error is JSON {@code {"fault_message": "..."}} with a 4xx status for a bad or refused
 * request, 5xx for our own failure ({@link ApiFaults}); bodies over {@value #MAX_BODY_BYTES} bytes
 * are refused (413). Over TCP the Host header must name loopback when the address is loopback
 * (no DNS rebinding from a web page), and a configured token must come as a bearer token.
 */
public final class ControlApi extends AllDirectives {
    static final Duration SNAPSHOT_TIMEOUT = Duration.ofMinutes(10), COMMAND_TIMEOUT = Duration.ofSeconds(30);
    static final long MAX_BODY_BYTES = 64 * 1024;

    private final ActorSystem<?> system;
    private final MicroVm instance;
    private final FirecrackerApi firecracker;
    private final ApiEndpoint endpoint;
    private final SnapshotOperations snapshots = new SnapshotOperations();

    private ControlApi(ActorSystem<?> system, MicroVm instance, ApiEndpoint endpoint) {
        this.system = system;
        this.instance = instance;
        this.firecracker = new FirecrackerApi(system, instance);
        this.endpoint = endpoint;
    }

    /** A served API; closing it stops serving. */
    public interface Binding extends AutoCloseable {
        /** Where it listens: the socket path, or tcp:HOST:PORT with the port actually bound. */
        String address();

        @Override
        void close();
    }

    /**
     * Serves the API for {@code vm} at {@code endpoint}; an IOException (one line) when it cannot:
     * the socket path is in use, the port is taken.
     */
    public static Binding bind(ActorSystem<?> system, ActorRef<Vm.Command> vm, ApiEndpoint endpoint) throws IOException {
        return bind(system, MicroVm.running(vm, null), endpoint);
    }

    /** Serves the API for {@code instance}: started or still to be configured through Firecracker's routes. */
    public static Binding bind(ActorSystem<?> system, MicroVm instance, ApiEndpoint endpoint) throws IOException {
        return bind(system, new ControlApi(system, instance, endpoint).routes(), endpoint);
    }

    /** The routes of one instance, without the checks every request goes through ({@link #framed}). */
    static Route routesOf(ActorSystem<?> system, MicroVm instance, ApiEndpoint endpoint) {
        return new ControlApi(system, instance, endpoint).vmRoutes();
    }

    /** {@code inner} behind the checks and error shapes of every route: JSON faults, no dot segments, TCP's Host and token. */
    static Route framed(ActorSystem<?> system, ApiEndpoint endpoint, Supplier<Route> inner) {
        ControlApi frame = new ControlApi(system, null, endpoint);
        return frame.handleRejections(ApiFaults.rejections(), () -> frame.handleExceptions(ApiFaults.exceptions(), () -> frame.guarded(inner)));
    }

    /** Serves {@code route} (already {@link #framed}) at {@code endpoint}. */
    static Binding bind(ActorSystem<?> system, Route route, ApiEndpoint endpoint) throws IOException {
        ServerSettings settings = settings(system);
        switch (endpoint) {
            case ApiEndpoint.UnixSocket u -> {
                UnixSocketServer server = UnixSocketServer.bind(system, u.path(), () -> route.flow(system), settings);
                return new Binding() {
                    @Override
                    public String address() {
                        return server.path().toString();
                    }

                    @Override
                    public void close() {
                        try {
                            server.close();
                        } catch (IOException ignored) {
                            // the socket file is gone already
                        }
                    }
                };
            }
            case ApiEndpoint.Tcp t -> {
                ServerBinding b;
                try {
                    b = Http.get(system).newServerAt(t.host(), t.port()).withSettings(settings).bind(route)
                            .toCompletableFuture().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException | TimeoutException e) {
                    throw new IOException("cannot serve the API on " + t + ": " + (e.getCause() != null ? e.getCause().getMessage() : e));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while binding the API on " + t);
                }
                return new Binding() {
                    @Override
                    public String address() {
                        return "tcp:" + t.host() + ":" + b.localAddress().getPort();
                    }

                    @Override
                    public void close() {
                        b.unbind();
                    }
                };
            }
        }
    }

    /**
     * No bytes flow while a snapshot is taken: pekko-http's idle timeout (60 s) would close the
     * connection under a slow snapshot and the client would see an empty reply, so it outlasts the
     * snapshot's own time budget. Bodies are small; malformed requests get JSON faults.
     */
    static ServerSettings settings(ActorSystem<?> system) {
        return ServerSettings.create(ConfigFactory.parseMap(Map.of(
                        "pekko.http.server.idle-timeout", SNAPSHOT_TIMEOUT.plusSeconds(30).toSeconds() + "s",
                        "pekko.http.server.parsing.max-content-length", String.valueOf(MAX_BODY_BYTES),
                        "pekko.http.server.parsing.error-handler", ApiFaults.ParsingErrors.class.getName(),
                        "pekko.http.server.raw-request-uri-header", "on",
                        // A console WebSocket with nothing to say for longer than the idle timeout stays open.
                        "pekko.http.server.websocket.periodic-keep-alive-max-idle", "30s"))
                .withFallback(system.settings().config()));
    }

    /** This API described in OpenAPI 3.1, served at {@code GET /openapi.json} (a test checks every route against it). */
    static final byte[] OPENAPI = openApi();

    private static byte[] openApi() {
        try (var in = ControlApi.class.getResourceAsStream("openapi.json")) {
            if (in == null) throw new IllegalStateException("openapi.json is missing from the control module");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final ContentType.NonBinary PROMETHEUS = (ContentType.NonBinary) ContentTypes.parse(PrometheusText.CONTENT_TYPE);

    Route routes() {
        return framed(system, endpoint, this::vmRoutes);
    }

    Route vmRoutes() {
        return concat(
                path("openapi.json", () -> get(() -> complete(HttpResponse.create().withStatus(StatusCodes.OK)
                        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, OPENAPI))))),
                path("metrics", () -> get(() -> onSuccess(ask(Vm.GetStatus::new, COMMAND_TIMEOUT).thenCompose(status ->
                        ask(Vm.GetStats::new, COMMAND_TIMEOUT).thenApply(stats -> PrometheusText.render(status, stats))),
                        text -> complete(HttpResponse.create().withStatus(StatusCodes.OK).withEntity(HttpEntities.create(
                                PROMETHEUS, text)))))),
                path("vm", () -> get(() -> onSuccess(ask(Vm.GetStatus::new, COMMAND_TIMEOUT),
                        s -> complete(StatusCodes.OK, Map.of("name", s.name(), "state", s.state().name().toLowerCase(),
                                "termination", s.termination() == null ? "" : s.termination().reason()), Jackson.marshaller())))),
                pathPrefix("vm", () -> concat(
                        path("pause", () -> put(() -> lifecycle(Vm.Pause::new))),
                        path("resume", () -> put(() -> lifecycle(Vm.Resume::new))),
                        path("stop", () -> put(() -> lifecycle(r -> new Vm.Stop("stopped through the control API", r)))))),
                // A full snapshot of a large guest outlasts pekko-http's default 20 s request
                // timeout (which answers 503 while the snapshot goes on): wait as long as the ask does.
                // Firecracker's body names the files to write; actorvm's (the type, or none) keeps it in the data directory.
                path(PathMatchers.segment("snapshot").slash("create"), () -> put(() -> entity(Unmarshaller.entityToString(), body ->
                        FirecrackerApi.isFirecrackerSnapshotRequest(body) ? firecracker.createSnapshot(body)
                        : withRequestTimeout(SNAPSHOT_TIMEOUT.plusSeconds(5), () -> snapshotRequest(body, op -> onComplete(op.result(), result ->
                                result.isSuccess() ? complete(StatusCodes.OK, result.get(), Jackson.marshaller())
                                        : complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, message(result.failed().get()))))))))),
                path(PathMatchers.segment("operations").slash("snapshot"), () -> post(() -> entity(Unmarshaller.entityToString(), body -> snapshotRequest(body, op ->
                        respondWithHeader(Location.create("/operations/" + op.id()), () ->
                                complete(StatusCodes.ACCEPTED, SnapshotOperations.describe(op), Jackson.marshaller())))))),
                path(PathMatchers.segment("operations").slash(PathMatchers.segment()), id -> get(() -> {
                    SnapshotOperations.Operation op = snapshots.get(id);
                    return op == null ? complete(ApiFaults.fault(StatusCodes.NOT_FOUND, "no operation " + id))
                            : complete(StatusCodes.OK, op, Jackson.marshaller());
                })),
                new DebugRoutes(system, instance).routes(),
                firecracker.routes());
    }

    /** What a snapshot request may carry as its body. */
    record SnapshotRequest(String type) {}

    /** Parses a snapshot request (body or query), starts or joins the snapshot, and hands the operation on. */
    private Route snapshotRequest(String body, java.util.function.Function<SnapshotOperations.Running, Route> then) {
        return parameterOptional("type", query -> {
            String type;
            try {
                SnapshotRequest request = body.isBlank() ? new SnapshotRequest(query.orElse("")) : ApiFaults.json()
                        .readerFor(SnapshotRequest.class).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                        .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readValue(body);
                if (request == null) throw new IllegalArgumentException("a snapshot request is a JSON object, e.g. {\"type\": \"full\"}");
                type = request.type();
            } catch (JsonProcessingException e) {
                return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "malformed snapshot request: " + e.getOriginalMessage()));
            } catch (IllegalArgumentException e) {
                return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, e.getMessage()));
            }
            if (type == null) type = "";
            if (!List.of("", "full", "incremental").contains(type)) {
                return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "snapshot type must be \"full\" or \"incremental\", not \"" + type + "\""));
            }
            boolean full = type.equals("full");
            try {
                return then.apply(snapshots.start(full, () -> this.<StatusReply<Vm.SnapshotInfo>>ask(
                        r -> new Vm.TakeSnapshot(full, r), SNAPSHOT_TIMEOUT)));
            } catch (SnapshotOperations.Busy busy) {
                return complete(ApiFaults.fault(StatusCodes.CONFLICT, busy.getMessage()));
            }
        });
    }

    /**
     * A path as sent must name its route directly: dot segments ({@code /a/../vm/stop}, also
     * percent-encoded) are refused rather than resolved, so that no prefix a proxy or a client
     * allows can be walked out of. Over TCP, the Host header names loopback (for a loopback
     * address) and the bearer token matches (when one is set).
     */
    private Route guarded(Supplier<Route> inner) {
        return extractRequest(request -> {
            String target = request.getHeader(org.apache.pekko.http.javadsl.model.headers.RawRequestURI.class)
                    .map(org.apache.pekko.http.javadsl.model.headers.RawRequestURI::uri).orElse("");
            if (hasDotSegment(target)) {
                return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "paths with . or .. segments are refused"));
            }
            return endpoint instanceof ApiEndpoint.Tcp tcp ? tcpChecked(tcp, request, inner) : inner.get();
        });
    }

    static boolean hasDotSegment(String rawTarget) {
        int query = rawTarget.indexOf('?');
        String path = (query < 0 ? rawTarget : rawTarget.substring(0, query)).toLowerCase().replace("%2e", ".");
        for (String segment : path.split("/", -1)) {
            if (segment.equals(".") || segment.equals("..")) return true;
        }
        return false;
    }

    private Route tcpChecked(ApiEndpoint.Tcp tcp, HttpRequest request, Supplier<Route> inner) {
        boolean checkHost = tcp.loopback();
        {
            if (checkHost && !hostIsLoopback(request)) {
                return complete(ApiFaults.fault(StatusCodes.FORBIDDEN, "the Host header must name a loopback address"));
            }
            if (!sameOrigin(request)) {
                return complete(ApiFaults.fault(StatusCodes.FORBIDDEN, "requests from another origin are refused"));
            }
            if (tcp.token() != null && !bearerMatches(request, tcp.token())) {
                return respondWithHeader(WWWAuthenticate.create(HttpChallenge.createOAuth2("actorvm")), () ->
                        complete(ApiFaults.fault(StatusCodes.UNAUTHORIZED, "a bearer token is required (Authorization: Bearer TOKEN)")));
            }
            return inner.get();
        }
    }

    /**
     * A browser names the page a request comes from in its Origin header: only the web console's
     * own pages (same scheme-less host and port as the Host header) may use the API, so that no
     * other site open in the same browser can drive VMs or read a console (WebSockets are not
     * subject to the browser's same-origin rule). Clients that send no Origin are not browsers.
     */
    static boolean sameOrigin(HttpRequest request) {
        Optional<org.apache.pekko.http.javadsl.model.HttpHeader> origin = request.getHeader("Origin");
        if (origin.isEmpty()) return true;
        Optional<org.apache.pekko.http.javadsl.model.HttpHeader> host = request.getHeader("Host");
        String o = origin.get().value().strip();
        return host.isPresent() && (o.equals("http://" + host.get().value().strip()) || o.equals("https://" + host.get().value().strip()));
    }

    /** localhost or a loopback IP literal; names are never resolved (that is what DNS rebinding abuses). */
    static boolean hostIsLoopback(HttpRequest request) {
        Optional<org.apache.pekko.http.javadsl.model.headers.Host> host = request.getHeader(org.apache.pekko.http.javadsl.model.headers.Host.class);
        if (host.isEmpty()) return false;
        String name = host.get().host().address();
        if (name.startsWith("[") && name.endsWith("]")) name = name.substring(1, name.length() - 1);
        if (name.equalsIgnoreCase("localhost")) return true;
        try {
            return InetAddress.ofLiteral(name).isLoopbackAddress();
        } catch (IllegalArgumentException notALiteral) {
            return false;
        }
    }

    static boolean bearerMatches(HttpRequest request, String token) {
        Optional<Authorization> auth = request.getHeader(Authorization.class);
        if (auth.isEmpty() || !auth.get().credentials().scheme().equalsIgnoreCase("bearer")) return false;
        String given = auth.get().credentials().token();
        return MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
    }

    private Route lifecycle(java.util.function.Function<ActorRef<StatusReply<Done>>, Vm.Command> command) {
        return onSuccess(this.<StatusReply<Done>>ask(command, COMMAND_TIMEOUT), reply -> reply.isSuccess()
                ? complete(StatusCodes.NO_CONTENT)
                : complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, reply.getError().getMessage())));
    }

    private static String message(Throwable t) {
        Throwable e = t instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : t;
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private <T> CompletionStage<T> ask(java.util.function.Function<ActorRef<T>, Vm.Command> command, Duration timeout) {
        return AskPattern.ask(instance.vm(), command::apply, timeout, system.scheduler());
    }
}
