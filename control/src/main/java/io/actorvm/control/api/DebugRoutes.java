package io.actorvm.control.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Segment;
import io.actorvm.kvm.Sregs;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.debug.DebugSteps;
import io.actorvm.vmm.actors.debug.GuestDebugger;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.marshallers.jackson.Jackson;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.pattern.StatusReply;

import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * A paused VM seen and stepped without gdb (actorvm's own routes, for {@code replay} and any
 * running VM):
 * <pre>
 * GET /debug/vcpus/{n}/registers                       general, control and segment registers
 * GET /debug/memory?address=A&amp;length=N[&amp;virtual=true&amp;vcpu=V]   bytes by physical or virtual address
 * PUT /debug/step {"vcpu": 0, "count": 1, "until": "0x...", "timeout_ms": 60000}
 * </pre>
 * Each needs the VM paused (409 otherwise): a vCPU's registers are only read outside KVM_RUN.
 * Addresses are hex ({@code 0x...}) or decimal strings. Memory reads are at most 64 KiB; a
 * virtual address that does not map is a 400 naming the level and reason of the page fault.
 */
final class DebugRoutes extends AllDirectives {
    static final int MAX_READ = 64 * 1024;
    static final Duration MAX_STEP_TIME = Duration.ofMinutes(5), DEFAULT_STEP_TIME = Duration.ofSeconds(60);

    private final ActorSystem<?> system;
    private final MicroVm instance;
    private final Executor blocking;

    DebugRoutes(ActorSystem<?> system, MicroVm instance) {
        this.system = system;
        this.instance = instance;
        this.blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
    }

    /** A step request's body. */
    record StepRequest(Integer vcpu, Long count, String until, Long timeout_ms) {}

    Route routes() {
        return pathPrefix("debug", () -> concat(
                path(PathMatchers.segment("vcpus").slash(PathMatchers.segment()).slash("registers"), n -> get(() -> {
                    int vcpu;
                    try {
                        vcpu = (int) parseNumber(n, "the vCPU", 0, 1023);
                    } catch (IllegalArgumentException e) {
                        return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, e.getMessage()));
                    }
                    return paused(d -> registers(d, vcpu));
                })),
                path("memory", () -> get(() -> parameterOptional("address", address -> parameterOptional("length", length ->
                        parameterOptional("virtual", virtual -> parameterOptional("vcpu", vcpu ->
                                paused(d -> memory(d, address, length, virtual, vcpu)))))))),
                path("step", () -> put(() -> entity(Unmarshaller.entityToString(), body -> step(body))))));
    }

    /** The VM's debugger once it is known to be paused, and what {@code f} answers from it on the blocking pool. */
    private Route paused(java.util.function.Function<GuestDebugger, Object> f) {
        return onComplete(debugger().thenApplyAsync(f, blocking), result -> {
            if (result.isSuccess()) return complete(StatusCodes.OK, result.get(), Jackson.marshaller());
            return complete(refusal(result.failed().get()));
        });
    }

    /** The debugger of a paused VM; an IllegalStateException (409) when the VM is not paused. */
    private CompletionStage<GuestDebugger> debugger() {
        ActorRef<Vm.Command> vm = instance.vm();
        return AskPattern.<Vm.Command, Vm.Status>ask(vm, Vm.GetStatus::new, ControlApi.COMMAND_TIMEOUT, system.scheduler())
                .thenCompose(status -> {
                    if (status.state() != Vm.State.PAUSED) {
                        throw new IllegalStateException("VM " + status.name() + " is " + status.state().name().toLowerCase()
                                + ": pause it first (PUT /vm/pause)");
                    }
                    return AskPattern.<Vm.Command, StatusReply<GuestDebugger>>ask(vm, Vm.GetDebugger::new, ControlApi.COMMAND_TIMEOUT,
                            system.scheduler());
                })
                .thenApply(r -> {
                    if (r.isError()) throw new IllegalStateException(r.getError().getMessage());
                    return r.getValue();
                });
    }

    private static Object registers(GuestDebugger d, int vcpu) {
        if (vcpu < 0 || vcpu >= d.vcpuCount()) throw new IllegalArgumentException("the VM has no vCPU " + vcpu);
        Regs r = d.regs(vcpu);
        Sregs s = d.sregs(vcpu);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vcpu", vcpu);
        long[] gp = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(), r.r10(), r.r11(),
                r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer()};
        String[] names = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
                "r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4", "cr8", "efer"};
        for (int i = 0; i < names.length; i++) m.put(names[i], hex(gp[i]));
        for (var seg : Map.of("cs", s.cs(), "ss", s.ss(), "ds", s.ds(), "es", s.es(), "fs", s.fs(), "gs", s.gs()).entrySet().stream()
                .sorted(Map.Entry.comparingByKey()).toList()) {
            Segment g = seg.getValue();
            m.put(seg.getKey(), Map.of("selector", hex(g.selector()), "base", hex(g.base()), "limit", hex(g.limit())));
        }
        return m;
    }

    private static Object memory(GuestDebugger d, Optional<String> addressText, Optional<String> lengthText, Optional<String> virtualText,
                                 Optional<String> vcpuText) {
        long address = parseAddress(addressText.orElseThrow(() -> new IllegalArgumentException(
                "address is required: /debug/memory?address=0x1000&length=16")), "address");
        int length = (int) lengthText.map(t -> parseNumber(t, "length", 1, MAX_READ)).orElse(256L).longValue();
        boolean virtual = virtualText.map(v -> switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("virtual must be true or false, not '" + v + "'");
        }).orElse(false);
        int vcpu = (int) vcpuText.map(t -> parseNumber(t, "vcpu", 0, d.vcpuCount() - 1)).orElse(0L).longValue();
        byte[] bytes = virtual ? d.readVirtual(vcpu, address, length) : d.memory().read(GuestAddress.of(address), length);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("address", hex(address));
        m.put("virtual", virtual);
        m.put("length", bytes.length);
        m.put("hex", HexFormat.of().formatHex(bytes));
        return m;
    }

    private Route step(String body) {
        StepRequest request;
        try {
            request = body.isBlank() ? new StepRequest(null, null, null, null) : ApiFaults.json().readerFor(StepRequest.class)
                    .with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                    .with(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).readValue(body);
            if (request == null) throw new IllegalArgumentException("a step request is a JSON object, e.g. {\"count\": 1}");
        } catch (JsonProcessingException e) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, "malformed step request: " + e.getOriginalMessage()));
        } catch (IllegalArgumentException e) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, e.getMessage()));
        }
        int vcpu = request.vcpu() == null ? 0 : request.vcpu();
        long count;
        OptionalLong until;
        Duration timeout;
        try {
            until = request.until() == null ? OptionalLong.empty() : OptionalLong.of(parseAddress(request.until(), "until"));
            // With an address and no count, step as far as one request may to reach it.
            count = request.count() != null ? request.count() : until.isPresent() ? DebugSteps.MAX_COUNT : 1;
            timeout = request.timeout_ms() == null ? DEFAULT_STEP_TIME : Duration.ofMillis(request.timeout_ms());
            if (timeout.isNegative() || timeout.isZero() || timeout.compareTo(MAX_STEP_TIME) > 0) {
                throw new IllegalArgumentException("timeout_ms must be between 1 and " + MAX_STEP_TIME.toMillis());
            }
        } catch (IllegalArgumentException e) {
            return complete(ApiFaults.fault(StatusCodes.BAD_REQUEST, e.getMessage()));
        }
        ActorRef<Vm.Command> vm = instance.vm();
        CompletionStage<DebugSteps.Result> stepped = debugger().thenApplyAsync(d -> {
            try {
                return DebugSteps.step(system, vm, d, vcpu, count, until, timeout);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while stepping");
            }
        }, blocking);
        return withRequestTimeout(timeout.plus(ControlApi.COMMAND_TIMEOUT.multipliedBy(3)), () -> onComplete(stepped, result -> {
            if (result.isFailure()) return complete(refusal(result.failed().get()));
            DebugSteps.Result r = result.get();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("vcpu", r.vcpu());
            m.put("steps", r.steps());
            m.put("rip", hex(r.rip()));
            m.put("ended", r.ended().name().toLowerCase());
            return complete(StatusCodes.OK, m, Jackson.marshaller());
        }));
    }

    /** A failed debug request: 409 for a VM not paused or already debugged, 400 for a bad argument or an unmapped address. */
    private static org.apache.pekko.http.javadsl.model.HttpResponse refusal(Throwable t) {
        Throwable e = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        String message = e.getMessage() != null ? e.getMessage() : e.toString();
        if (e instanceof IllegalStateException) return ApiFaults.fault(StatusCodes.CONFLICT, message);
        if (e instanceof IllegalArgumentException || e instanceof io.actorvm.mmu.paging.PageFaultException
                || e instanceof io.actorvm.mmu.GuestMemoryException) {
            return ApiFaults.fault(StatusCodes.BAD_REQUEST, message);
        }
        if (e instanceof MicroVm.NotAllowed) return ApiFaults.fault(StatusCodes.BAD_REQUEST, message);
        return ApiFaults.fault(StatusCodes.INTERNAL_SERVER_ERROR, message);
    }

    static long parseAddress(String text, String what) {
        try {
            return GuestAddress.parse(text).value();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " must be an address such as 0x1000 or 4096, not '" + text + "'");
        }
    }

    private static long parseNumber(String text, String what, long min, long max) {
        try {
            long v = Long.parseLong(text.strip());
            if (v < min || v > max) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " must be between " + min + " and " + max + ", not '" + text + "'");
        }
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
