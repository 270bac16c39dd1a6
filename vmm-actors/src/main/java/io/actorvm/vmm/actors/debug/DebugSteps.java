package io.actorvm.vmm.actors.debug;

import io.actorvm.kvm.GuestDebug;
import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Single-steps one vCPU of a paused VM without gdb: {@code count} instructions, or until its rip
 * reaches an address (a breakpoint found by stepping, so it works where KVM never sees breakpoint
 * exceptions), then the VM is paused again. For the control API's {@code PUT /debug/step} and
 * embedding programs. The other vCPUs run meanwhile, as with gdb's {@code stepi} (all-stop:
 * everything is parked again when the step ends). Refused while a gdb session is attached: the
 * steps' debug exits would be gdb's stops.
 */
public final class DebugSteps {
    /** The most instructions one request steps (about a minute on a host where an exit costs 5 µs). */
    public static final long MAX_COUNT = 10_000_000;

    /** Why stepping ended: the count was stepped, rip reached the address, the time ran out. */
    public enum Ended { COUNT, REACHED, TIMEOUT }

    /** Where vCPU {@code vcpu} is after {@code steps} instructions. */
    public record Result(int vcpu, long steps, long rip, Ended ended) {}

    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    private DebugSteps() {
    }

    /**
     * Steps vCPU {@code vcpu} of {@code vm} (paused; {@code debugger} is its debugger) up to
     * {@code count} instructions, fewer if its rip reaches {@code until} first, for at most
     * {@code timeout}; blocks the calling thread. The VM is paused when it returns.
     * IllegalArgumentException for bad arguments, IllegalStateException when the VM is not paused,
     * another debugger is attached, or the VM does not answer.
     */
    public static Result step(ActorSystem<?> system, ActorRef<Vm.Command> vm, GuestDebugger debugger, int vcpu, long count,
                              OptionalLong until, Duration timeout) throws InterruptedException {
        if (vcpu < 0 || vcpu >= debugger.vcpuCount()) throw new IllegalArgumentException("the VM has no vCPU " + vcpu);
        if (count < 1 || count > MAX_COUNT) throw new IllegalArgumentException("count must be between 1 and " + MAX_COUNT + ", not " + count);
        Vm.Status status = askStatus(system, vm);
        if (status.state() != Vm.State.PAUSED) {
            throw new IllegalStateException("VM " + status.name() + " is " + status.state().name().toLowerCase() + ": pause it before stepping");
        }
        CompletableFuture<GuestDebugger.Stop> stopped = new CompletableFuture<>();
        GuestDebugger.Listener listener = stopped::complete;
        if (!debugger.attachIfFree(listener)) throw new IllegalStateException("a debugger (gdb) is attached to the VM: step from there");
        AtomicLong steps = new AtomicLong();
        Ended ended = Ended.TIMEOUT;
        try {
            // Runs on the stepping vCPU's own thread after each instruction, where its registers
            // may be read (its thread is outside KVM_RUN); a step that goes on re-arms itself.
            debugger.filter(stop -> {
                if (stop.vcpu() != vcpu) return true; // not ours: never asked for, so let it be seen
                long n = steps.incrementAndGet();
                return n >= count || (until.isPresent() && debugger.regs(vcpu).rip() == until.getAsLong());
            });
            debugger.setGuestDebug(vcpu, GuestDebug.ENABLE | GuestDebug.SINGLESTEP, null);
            lifecycle(system, vm, Vm.Resume::new);
            try {
                stopped.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                ended = Ended.COUNT;
            } catch (TimeoutException e) {
                ended = Ended.TIMEOUT;
            } catch (ExecutionException e) {
                throw new IllegalStateException("stepping failed: " + e.getCause());
            } finally {
                lifecycle(system, vm, Vm.Pause::new); // all-stop: the other vCPUs park too
            }
        } finally {
            debugger.detach(listener);
            debugger.setGuestDebug(vcpu, 0, null);
        }
        long rip = debugger.regs(vcpu).rip();
        if (ended == Ended.COUNT && until.isPresent() && rip == until.getAsLong()) ended = Ended.REACHED;
        return new Result(vcpu, steps.get(), rip, ended);
    }

    private static Vm.Status askStatus(ActorSystem<?> system, ActorRef<Vm.Command> vm) throws InterruptedException {
        try {
            return AskPattern.<Vm.Command, Vm.Status>ask(vm, Vm.GetStatus::new, COMMAND_TIMEOUT, system.scheduler())
                    .toCompletableFuture().get(COMMAND_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("the VM did not answer: " + e);
        }
    }

    private static void lifecycle(ActorSystem<?> system, ActorRef<Vm.Command> vm,
                                  java.util.function.Function<ActorRef<StatusReply<Done>>, Vm.Command> command) throws InterruptedException {
        try {
            StatusReply<Done> r = AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, command::apply, COMMAND_TIMEOUT, system.scheduler())
                    .toCompletableFuture().get(COMMAND_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
            if (r.isError()) throw new IllegalStateException(r.getError().getMessage());
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("the VM did not answer: " + e);
        }
    }
}
