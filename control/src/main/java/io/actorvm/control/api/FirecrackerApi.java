package io.actorvm.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.actorvm.control.api.FirecrackerModel.SnapshotCreateParams;
import io.actorvm.control.api.FirecrackerModel.SnapshotLoadParams;
import io.actorvm.devices.HostSources;
import io.actorvm.persistence.SnapshotFiles;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.pattern.StatusReply;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Firecracker's API (the flows of its getting-started and snapshot guides) over the same socket as
 * actorvm's own routes: configure a microVM with {@code PUT /boot-source}, {@code /machine-config},
 * {@code /drives/{id}}, {@code /network-interfaces/{id}}, {@code /entropy}, start it with
 * {@code PUT /actions}, pause and resume it with {@code PATCH /vm}, snapshot it to a state file and
 * a memory file and load those into a fresh process ({@code PUT /snapshot/create|load}). Answers
 * as Firecracker's: 204 with no body on success, 400 with {@code fault_message} when a request is
 * malformed or not allowed in the instance's state (pre-boot vs post-boot), and 400 naming what
 * actorvm does not support (mmds, vsock, balloon, ...).
 */
final class FirecrackerApi extends AllDirectives {
    /** The Firecracker API level this speaks (the flows its guides use). */
    static final String API_VERSION = "1.10.0";
    static final String VMM_VERSION = "actorvm 0.1.0";

    private final ActorSystem<?> system;
    private final MicroVm instance;
    private final Executor blocking;

    FirecrackerApi(ActorSystem<?> system, MicroVm instance) {
        this.system = system;
        this.instance = instance;
        this.blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
    }

    /** Firecracker endpoints actorvm does not have yet: each answers 400 naming it. */
    static final Map<String, String> UNSUPPORTED = Map.of(
            "mmds", "MMDS", "vsock", "vsock devices", "balloon", "the balloon device", "cpu-config", "custom CPU templates",
            "hotplug", "memory hot-plug", "serial", "serial output redirection");

    Route routes() {
        return concat(
                pathEndOrSingleSlash(() -> get(() -> onSuccess(state(), s -> ok(new FirecrackerModel.InstanceInfo(
                        "actorvm", instance.id(), s, VMM_VERSION))))),
                path("version", () -> get(() -> ok(new FirecrackerModel.FirecrackerVersion(API_VERSION)))),
                path("boot-source", () -> put(() -> body(FirecrackerModel.BootSource.class, "boot source", instance::setBootSource))),
                path("machine-config", () -> concat(
                        get(() -> ok(instance.machineConfig())),
                        put(() -> body(FirecrackerModel.MachineConfig.class, "machine configuration", m -> instance.setMachineConfig(m, false))),
                        patch(() -> body(FirecrackerModel.MachineConfig.class, "machine configuration", m -> instance.setMachineConfig(m, true))))),
                path(PathMatchers.segment("drives").slash(PathMatchers.segment()), id -> concat(
                        put(() -> body(FirecrackerModel.Drive.class, "drive", d -> instance.putDrive(id, d))),
                        patch(() -> fault("updating a drive after boot (PATCH /drives) is not supported by actorvm yet")))),
                path(PathMatchers.segment("network-interfaces").slash(PathMatchers.segment()), id -> concat(
                        put(() -> body(FirecrackerModel.NetworkInterface.class, "network interface", n -> instance.putNetworkInterface(id, n))),
                        patch(() -> fault("updating a network interface (PATCH /network-interfaces) is not supported by actorvm yet")))),
                path("entropy", () -> put(() -> body(FirecrackerModel.EntropyDevice.class, "entropy device", instance::setEntropy))),
                path("logger", () -> put(() -> body(FirecrackerModel.Logger.class, "logger", l -> {
                    FirecrackerLogger.configure(l);
                    instance.setLogger(l);
                }))),
                path("metrics", () -> put(() -> body(FirecrackerModel.Metrics.class, "metrics configuration", m -> {
                    FirecrackerModel.require(m.metricsPath(), "metrics_path", "a metrics configuration");
                    instance.setMetrics(m);
                }))),
                // InstanceStart answers once the guest runs: a large guest, or a host that emulates
                // its CPU, outlasts pekko-http's default 20 s request timeout (which answers 503).
                path("actions", () -> put(() -> withRequestTimeout(ControlApi.SNAPSHOT_TIMEOUT.plusSeconds(5), () ->
                        withBody(FirecrackerModel.InstanceActionInfo.class, "action", this::action)))),
                path("vm", () -> patch(() -> withBody(FirecrackerModel.VmState.class, "VM state", this::vmState))),
                path(PathMatchers.segment("vm").slash("config"), () -> get(() -> ok(instance.fullConfiguration()))),
                path(PathMatchers.segment("snapshot").slash("load"), () -> put(() ->
                        withRequestTimeout(ControlApi.SNAPSHOT_TIMEOUT.plusSeconds(5), () ->
                                withBody(SnapshotLoadParams.class, "snapshot load request", this::loadSnapshot)))),
                pathPrefix(PathMatchers.segment(java.util.regex.Pattern.compile(String.join("|", UNSUPPORTED.keySet()))), name ->
                        fault(UNSUPPORTED.get(name) + " (/" + name + ") " + (UNSUPPORTED.get(name).endsWith("s") ? "are" : "is")
                                + " not supported by actorvm yet")));
    }

    /** True when a {@code PUT /snapshot/create} body is Firecracker's (names the files) rather than actorvm's. */
    static boolean isFirecrackerSnapshotRequest(String body) {
        JsonNode tree = FirecrackerModel.tree(body);
        return tree != null && (tree.has("snapshot_path") || tree.has("mem_file_path") || tree.has("snapshot_type"));
    }

    /**
     * Firecracker's snapshot: the microVM must be paused; a Full or Diff snapshot is taken into the
     * data directory and written out as the two files asked for.
     */
    Route createSnapshot(String body) {
        SnapshotCreateParams p;
        try {
            p = FirecrackerModel.parse(body, SnapshotCreateParams.class, "snapshot create request");
            FirecrackerModel.require(p.snapshotPath(), "snapshot_path", "a snapshot create request");
            FirecrackerModel.require(p.memFilePath(), "mem_file_path", "a snapshot create request");
            if (p.snapshotType() != null && !p.snapshotType().equals("Full") && !p.snapshotType().equals("Diff")) {
                throw new IllegalArgumentException("snapshot_type must be \"Full\" or \"Diff\", not \"" + p.snapshotType() + "\"");
            }
        } catch (IllegalArgumentException e) {
            return fault(e.getMessage());
        }
        boolean diff = "Diff".equals(p.snapshotType());
        return guard(() -> {
            ActorRef<Vm.Command> vm = instance.vm();
            if (instance.dataDir() == null) throw new MicroVm.NotAllowed("this VMM keeps no snapshots (no data directory)");
            CompletionStage<Void> done = ask(vm, Vm.GetStatus::new, ControlApi.COMMAND_TIMEOUT).thenCompose(status -> {
                if (status.state() != Vm.State.PAUSED) {
                    throw new MicroVm.NotAllowed("the microVM must be paused to be snapshotted (PATCH /vm {\"state\": \"Paused\"})");
                }
                return this.<StatusReply<Vm.SnapshotInfo>>ask(vm, r -> new Vm.TakeSnapshot(!diff, r), ControlApi.SNAPSHOT_TIMEOUT);
            }).thenApplyAsync(reply -> {
                if (reply.isError()) throw new IllegalStateException(reply.getError().getMessage());
                SnapshotStore store = SnapshotStore.open(instance.dataDir());
                SnapshotFiles.export(store.pages(), store.manifests(), reply.getValue().id(), Path.of(p.snapshotPath()),
                        Path.of(p.memFilePath()), diff);
                return null;
            }, blocking);
            return withRequestTimeout(ControlApi.SNAPSHOT_TIMEOUT.plusSeconds(5), () -> completeDone(done));
        });
    }

    private Route loadSnapshot(SnapshotLoadParams p) {
        String state = FirecrackerModel.require(p.snapshotPath(), "snapshot_path", "a snapshot load request");
        if (p.memFilePath() != null && p.memBackend() != null) {
            throw new IllegalArgumentException("give mem_backend or mem_file_path, not both");
        }
        String mem;
        if (p.memBackend() != null) {
            if (!"File".equals(p.memBackend().backendType())) {
                throw new IllegalArgumentException("mem_backend type " + p.memBackend().backendType() + " is not supported by actorvm (use \"File\")");
            }
            mem = FirecrackerModel.require(p.memBackend().backendPath(), "backend_path", "a memory backend");
        } else {
            mem = FirecrackerModel.require(p.memFilePath(), "mem_backend", "a snapshot load request");
        }
        if (p.networkOverrides() != null && !p.networkOverrides().isEmpty()) {
            throw new IllegalArgumentException("network_overrides are not supported by actorvm yet");
        }
        boolean resume = Boolean.TRUE.equals(p.resumeVm());
        Path dataDir = instance.dataDir();
        if (dataDir == null) throw new MicroVm.NotAllowed("this VMM has no data directory to load a snapshot into");
        return completeDone(instance.load(() -> {
            SnapshotStore store = SnapshotStore.open(dataDir);
            // The memory file is mapped copy-on-write, as Firecracker's File backend does: nothing is copied or hashed.
            SnapshotManifest imported = SnapshotFiles.importFiles(store.pages(), store.manifests(), Path.of(state), Path.of(mem),
                    VmSnapshots.newId(), true);
            VmConfig config = VmEvents.config(imported.getConfig(), dataDir);
            Behavior<Vm.Command> behavior = Vm.restore(config, imported.getSnapshotId(), !resume, HostSources.system());
            return Map.entry(behavior, config);
        }, blocking));
    }

    private Route action(FirecrackerModel.InstanceActionInfo a) {
        String type = FirecrackerModel.require(a.actionType(), "action_type", "an action");
        return switch (type) {
            case "InstanceStart" -> completeDone(instance.start(blocking));
            case "FlushMetrics" -> {
                FirecrackerModel.Metrics m = instance.metrics();
                if (m == null) throw new MicroVm.NotAllowed("FlushMetrics needs metrics configured first (PUT /metrics)");
                yield completeDone(FirecrackerMetrics.flush(system, instance, Path.of(m.metricsPath()), blocking));
            }
            case "SendCtrlAltDel" -> {
                ActorRef<Vm.Command> vm = instance.vm();
                yield completeDone(this.<StatusReply<Done>>ask(vm, Vm.SendCtrlAltDel::new, ControlApi.COMMAND_TIMEOUT).thenApply(reply -> {
                    if (reply.isError()) throw new MicroVm.NotAllowed(reply.getError().getMessage());
                    return null;
                }));
            }
            default -> fault("action_type must be InstanceStart, SendCtrlAltDel or FlushMetrics, not " + type);
        };
    }

    private Route vmState(FirecrackerModel.VmState s) {
        String state = FirecrackerModel.require(s.state(), "state", "a VM state");
        ActorRef<Vm.Command> vm = instance.vm();
        Function<ActorRef<StatusReply<Done>>, Vm.Command> command = switch (state) {
            case "Paused" -> Vm.Pause::new;
            case "Resumed" -> Vm.Resume::new;
            default -> throw new IllegalArgumentException("state must be \"Paused\" or \"Resumed\", not \"" + state + "\"");
        };
        return completeDone(this.<StatusReply<Done>>ask(vm, command, ControlApi.COMMAND_TIMEOUT).thenApply(reply -> {
            if (reply.isError()) throw new MicroVm.NotAllowed(reply.getError().getMessage());
            return null;
        }));
    }

    /** "Not started", "Running" or "Paused", as Firecracker's instance info says. */
    private CompletionStage<String> state() {
        if (!instance.started()) return CompletableFuture.completedFuture("Not started");
        return ask(instance.vm(), Vm.GetStatus::new, ControlApi.COMMAND_TIMEOUT)
                .thenApply(s -> s.state() == Vm.State.PAUSED ? "Paused" : "Running");
    }

    /** Parses the body as {@code type} and applies {@code change}: 204, or 400 with its message. */
    private <T> Route body(Class<T> type, String what, java.util.function.Consumer<T> change) {
        return withBody(type, what, value -> {
            change.accept(value);
            return complete(StatusCodes.NO_CONTENT);
        });
    }

    private <T> Route withBody(Class<T> type, String what, Function<T, Route> then) {
        return entity(Unmarshaller.entityToString(), text -> guard(() -> then.apply(FirecrackerModel.parse(text, type, what))));
    }

    /** Runs {@code route}; a refusal it throws (bad value, not allowed now) becomes a 400 fault. */
    private Route guard(Supplier<Route> route) {
        try {
            return route.get();
        } catch (IllegalArgumentException | MicroVm.NotAllowed e) {
            return fault(e.getMessage());
        }
    }

    private Route completeDone(CompletionStage<Void> done) {
        return onComplete(done, result -> result.isSuccess() ? complete(StatusCodes.NO_CONTENT) : fault(message(result.failed().get())));
    }

    private Route ok(Object body) {
        try {
            return complete(HttpResponse.create().withStatus(StatusCodes.OK)
                    .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, FirecrackerModel.JSON.writeValueAsBytes(body))));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private Route fault(String message) {
        return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, message));
    }

    static String message(Throwable t) {
        Throwable e = t;
        while ((e instanceof CompletionException || e instanceof java.util.concurrent.ExecutionException) && e.getCause() != null) e = e.getCause();
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private <T> CompletionStage<T> ask(ActorRef<Vm.Command> vm, Function<ActorRef<T>, Vm.Command> command, Duration timeout) {
        return AskPattern.ask(vm, command::apply, timeout, system.scheduler());
    }
}
