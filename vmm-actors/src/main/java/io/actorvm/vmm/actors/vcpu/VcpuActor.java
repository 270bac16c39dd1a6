package io.actorvm.vmm.actors.vcpu;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import io.actorvm.kvm.VcpuFd;
import io.actorvm.kvm.VmExit;
import io.actorvm.vmm.actors.io.ExitHandler;
import io.actorvm.vmm.actors.jfr.ExitEvent;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.ArrayList;
import java.util.List;

/**
 * One vCPU. The actor owns a platform thread that loops on KVM_RUN (FFM downcalls pin their
 * carrier, so a virtual thread would gain nothing) and turns every exit into a {@link VmExit}
 * message for the {@link ExitHandler}. Lifecycle commands come to the actor; it steers the thread
 * through {@link VcpuControl} and kicks it out of KVM_RUN.
 */
public final class VcpuActor extends AbstractBehavior<VcpuActor.Command> {

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /** Start the thread. */
    public record Run() implements Command {}

    /** Stop entering the guest; the reply comes once the thread is parked outside KVM_RUN. */
    public record Pause(ActorRef<Done> replyTo) implements Command {}

    public record Resume(ActorRef<Done> replyTo) implements Command {}

    /** Leave the guest for good; the parent hears {@link Stopped}. */
    public record Stop() implements Command {}

    record LoopPaused() implements Command {}

    record LoopEnded(Outcome outcome) implements Command {}

    /** Why a vCPU stopped running the guest. {@code error} outcomes fail the VM. */
    public record Outcome(String reason, boolean error, boolean requested) {
        static Outcome requestedStop() {
            return new Outcome("stopped", false, true);
        }
    }

    /** Sent to the parent when the thread has ended and will touch neither the vCPU nor guest memory again. */
    public record Stopped(int vcpuId, Outcome outcome) {}

    private final VcpuFd vcpu;
    private final ExitHandler exits;
    private final io.actorvm.vmm.actors.debug.GuestDebugger debugger;
    private final ActorRef<Stopped> parent;
    private final VcpuControl control = new VcpuControl();
    private final List<ActorRef<Done>> pauseWaiters = new ArrayList<>();
    private Thread thread;
    private boolean paused;

    public static Behavior<Command> create(VcpuFd vcpu, ExitHandler exits, ActorRef<Stopped> parent) {
        return create(vcpu, exits, parent, null);
    }

    /** As above; debug exits go to {@code debugger} (null: none, they are ignored). */
    public static Behavior<Command> create(VcpuFd vcpu, ExitHandler exits, ActorRef<Stopped> parent,
                                           io.actorvm.vmm.actors.debug.GuestDebugger debugger) {
        return Behaviors.setup(ctx -> new VcpuActor(ctx, vcpu, exits, parent, debugger));
    }

    private VcpuActor(ActorContext<Command> ctx, VcpuFd vcpu, ExitHandler exits, ActorRef<Stopped> parent,
                      io.actorvm.vmm.actors.debug.GuestDebugger debugger) {
        super(ctx);
        this.vcpu = vcpu;
        this.exits = exits;
        this.debugger = debugger;
        this.parent = parent;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Run.class, r -> {
                    if (thread == null) {
                        ActorRef<Command> self = getContext().getSelf();
                        thread = Thread.ofPlatform().name("vcpu-" + vcpu.id()).daemon(true)
                                .start(() -> loop(self));
                    }
                    return this;
                })
                .onMessage(Pause.class, p -> {
                    if (paused) {
                        p.replyTo().tell(Done.getInstance());
                    } else {
                        pauseWaiters.add(p.replyTo());
                        control.request(VcpuControl.Target.PAUSE);
                        kick();
                    }
                    return this;
                })
                .onMessage(LoopPaused.class, p -> {
                    paused = true;
                    pauseWaiters.forEach(w -> w.tell(Done.getInstance()));
                    pauseWaiters.clear();
                    return this;
                })
                .onMessage(Resume.class, r -> {
                    paused = false;
                    control.request(VcpuControl.Target.RUN);
                    r.replyTo().tell(Done.getInstance());
                    return this;
                })
                .onMessage(Stop.class, s -> {
                    control.request(VcpuControl.Target.STOP);
                    if (thread == null) {
                        parent.tell(new Stopped(vcpu.id(), Outcome.requestedStop()));
                        return Behaviors.stopped();
                    }
                    kick();
                    // A vCPU waiting for a device (a full backlog, a read) stops waiting: its VM is ending.
                    thread.interrupt();
                    return this;
                })
                .onMessage(LoopEnded.class, e -> {
                    pauseWaiters.forEach(w -> w.tell(Done.getInstance()));
                    parent.tell(new Stopped(vcpu.id(), e.outcome()));
                    return Behaviors.stopped();
                })
                .onSignal(PostStop.class, s -> {
                    endThread();
                    return this;
                })
                .build();
    }

    /** Longest wait for a vCPU thread to leave when its actor stops (a read waits at most 5 s for its device). */
    static final long THREAD_END_MILLIS = 10_000;

    /**
     * The actor stopped (normally after its loop ended; abnormally when the VM or its actor
     * system went away): the thread leaves KVM_RUN and ends before the VM releases the vCPU's fd
     * and mappings, which the thread would otherwise touch after they are gone.
     */
    private void endThread() {
        if (thread == null || !thread.isAlive()) return;
        control.request(VcpuControl.Target.STOP);
        kick();
        thread.interrupt(); // a read waiting for its device
        try {
            thread.join(THREAD_END_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) getContext().getLog().error("vCPU {} thread did not end within {} ms", vcpu.id(), THREAD_END_MILLIS);
    }

    private void kick() {
        exits.stats().kicks.increment();
        vcpu.kick();
    }

    /** The vCPU thread: KVM_RUN, decode, route, repeat. */
    private void loop(ActorRef<Command> self) {
        Outcome outcome = null;
        try {
            vcpu.bindToCurrentThread();
            int untilSample = ExitEvent.nextSampleIn();
            Runnable paused = () -> self.tell(new LoopPaused()); // made once: an exit allocates nothing here
            while (outcome == null) {
                if (control.pauseRequested()) completePendingInstruction();
                if (!control.awaitRunnable(paused)) {
                    outcome = Outcome.requestedStop();
                    break;
                }
                VmExit exit = vcpu.run();
                exits.stats().exits.increment();
                exits.drainCoalesced();
                if (--untilSample > 0) {
                    outcome = handle(exit);
                } else {
                    untilSample = ExitEvent.nextSampleIn();
                    outcome = handleRecorded(exit);
                }
            }
        } catch (Throwable t) {
            outcome = new Outcome("vCPU " + vcpu.id() + " failed: " + t, true, false);
        } finally {
            try {
                vcpu.unbindThread();
            } finally {
                self.tell(new LoopEnded(outcome));
            }
        }
    }

    /**
     * Before parking, lets KVM finish the instruction of the last exit (a port or MMIO read whose
     * data we supplied completes inside the next KVM_RUN): with immediate_exit set, KVM_RUN does
     * exactly that and returns. A snapshot taken while parked then never splits an instruction.
     */
    private void completePendingInstruction() {
        vcpu.runPage().setImmediateExit(true);
        VmExit exit = vcpu.run();
        vcpu.acknowledgeKick();
        if (rewind) {
            // KVM completed the `out` planted as a breakpoint, which moved rip past its one byte:
            // the vCPU stands at the breakpoint again, and the original instruction runs next.
            vcpu.setRegs(vcpu.getRegs().withRip(rewindTo));
            rewind = false;
        }
        if (!(exit instanceof VmExit.Interrupted)) {
            // Not expected with immediate_exit; handle it so nothing is lost.
            Outcome o = handle(exit);
            if (o != null) control.request(VcpuControl.Target.STOP);
        }
    }

    /** Whether an exit breakpoint stopped this vCPU, and where: rip goes back there once its `out` is completed (vCPU thread only). */
    private boolean rewind;
    private long rewindTo;

    /**
     * A port write at a planted exit breakpoint ({@link io.actorvm.vmm.actors.debug.GuestDebugger#acceptExitBreakpoint}):
     * no device sees it; the vCPU parks and the debugger hears of the stop.
     */
    private boolean stoppedAtExitBreakpoint() {
        io.actorvm.vmm.actors.debug.GuestDebugger.Stop stop = debugger.acceptExitBreakpoint(vcpu.id());
        if (stop == null) return false;
        rewind = true;
        rewindTo = stop.exit().pc(); // a kernel address is negative as a long
        control.request(VcpuControl.Target.PAUSE);
        debugger.report(stop);
        return true;
    }

    /** {@link #handle}, timed as a JFR {@link ExitEvent} when a recording wants them. */
    private Outcome handleRecorded(VmExit exit) {
        ExitEvent event = new ExitEvent();
        if (!event.isEnabled()) return handle(exit);
        event.begin();
        Outcome o = handle(exit);
        event.vcpu = vcpu.id();
        event.kind = exit.getClass().getSimpleName();
        event.commit();
        return o;
    }

    /** Handles one exit; returns null to keep running, or why this vCPU stops. */
    private Outcome handle(VmExit exit) {
        return switch (exit) {
            case VmExit.PortOut out -> {
                if (debugger != null && debugger.exitBreakpointsPlanted() && stoppedAtExitBreakpoint()) yield null;
                exits.portOut(out);
                yield null;
            }
            case VmExit.PortIn in -> {
                vcpu.runPage().completePortIn(exits.portIn(in));
                yield null;
            }
            case VmExit.MmioWrite w -> {
                exits.mmioWrite(w);
                yield null;
            }
            case VmExit.MmioRead r -> {
                vcpu.runPage().completeMmioRead(exits.mmioRead(r));
                yield null;
            }
            case VmExit.Interrupted i -> {
                vcpu.acknowledgeKick();
                yield null;
            }
            case VmExit.Halt h -> new Outcome("guest halted", false, false);
            case VmExit.Shutdown s -> new Outcome("guest triple fault (shutdown exit) on vCPU " + vcpu.id(), true, false);
            case VmExit.SystemEvent e -> switch (e.type()) {
                case VmExit.SystemEvent.SHUTDOWN -> new Outcome("guest powered off", false, false);
                case VmExit.SystemEvent.RESET -> new Outcome("guest reset", false, false);
                default -> new Outcome("guest " + e, true, false);
            };
            case VmExit.InternalError e -> new Outcome("KVM internal error on vCPU " + vcpu.id() + ": " + e, true, false);
            case VmExit.FailEntry f -> new Outcome("VM entry failed on vCPU " + vcpu.id() + ": " + f, true, false);
            case VmExit.Debug d -> {
                // Park before anything else can run this vCPU past the breakpoint; the debugger pauses the rest.
                io.actorvm.vmm.actors.debug.GuestDebugger.Stop stop = debugger == null ? null : debugger.accept(vcpu.id(), d);
                if (stop != null) {
                    control.request(VcpuControl.Target.PAUSE);
                    debugger.report(stop);
                }
                yield null;
            }
            case VmExit.Unhandled u -> new Outcome("unhandled exit reason " + u.reason() + " on vCPU " + vcpu.id(), true, false);
        };
    }
}
