package io.actorvm.vmm.actors.vcpu;

import io.actorvm.kvm.VcpuFd;
import io.actorvm.vmm.actors.io.ExitHandler;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The vCPU actors of one VM, spawned as children of the VM actor, and which of them still run a
 * thread. The VM steers them together: run, pause (the future completes once every thread is
 * parked outside KVM_RUN), resume, stop.
 */
public final class VcpuGroup {
    /** How long a vCPU may take to leave the guest and park. */
    private static final Duration PAUSE_TIMEOUT = Duration.ofSeconds(10);

    private final ActorContext<?> ctx;
    private final List<ActorRef<VcpuActor.Command>> refs = new ArrayList<>();
    private final Set<Integer> live = new HashSet<>();

    private VcpuGroup(ActorContext<?> ctx) {
        this.ctx = ctx;
    }

    /** Spawns one actor per vCPU as children of {@code ctx}; none runs until {@link #runAll()}. */
    public static VcpuGroup spawn(ActorContext<?> ctx, List<VcpuFd> vcpus, ExitHandler exits, ActorRef<VcpuActor.Stopped> stopped) {
        return spawn(ctx, vcpus, exits, stopped, null);
    }

    /** As above, with debug exits going to {@code debugger}. */
    public static VcpuGroup spawn(ActorContext<?> ctx, List<VcpuFd> vcpus, ExitHandler exits, ActorRef<VcpuActor.Stopped> stopped,
                                  io.actorvm.vmm.actors.debug.GuestDebugger debugger) {
        VcpuGroup group = new VcpuGroup(ctx);
        for (VcpuFd fd : vcpus) {
            group.refs.add(ctx.spawn(VcpuActor.create(fd, exits, stopped, debugger), "vcpu-" + fd.id()));
            group.live.add(fd.id());
        }
        return group;
    }

    public void runAll() {
        refs.forEach(v -> v.tell(new VcpuActor.Run()));
    }

    /** Asks every vCPU to park; completes when all have (or fails when one did not in time). */
    public CompletableFuture<Void> pauseAll() {
        List<CompletableFuture<Done>> acks = new ArrayList<>();
        for (var v : refs) {
            acks.add(AskPattern.<VcpuActor.Command, Done>ask(v, VcpuActor.Pause::new, PAUSE_TIMEOUT,
                    ctx.getSystem().scheduler()).toCompletableFuture());
        }
        return CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new));
    }

    /** Parks every vCPU before it first enters the guest, without waiting for acknowledgements. */
    public void startPaused() {
        refs.forEach(v -> v.tell(new VcpuActor.Pause(ctx.getSystem().ignoreRef())));
    }

    public void resumeAll() {
        refs.forEach(v -> v.tell(new VcpuActor.Resume(ctx.getSystem().ignoreRef())));
    }

    /** Tells every vCPU to leave the guest for good; each reports {@link VcpuActor.Stopped}. */
    public void stopAll() {
        refs.forEach(v -> v.tell(new VcpuActor.Stop()));
    }

    /** Notes that vCPU {@code id}'s thread has ended. */
    public void stopped(int id) {
        live.remove(id);
    }

    /** No vCPU thread runs: none will touch guest memory or the VM's file descriptors again. */
    public boolean allStopped() {
        return live.isEmpty();
    }
}
