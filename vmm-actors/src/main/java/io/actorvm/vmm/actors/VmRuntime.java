package io.actorvm.vmm.actors;

import io.actorvm.vmm.actors.debug.GuestDebugger;

import io.actorvm.devices.HostSources;
import io.actorvm.devices.VmControl;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.io.ExitRouter;
import io.actorvm.vmm.actors.io.IoStats;
import io.actorvm.vmm.actors.vcpu.VcpuActor;
import io.actorvm.vmm.actors.vcpu.VcpuGroup;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The live parts of a started VM and how they are wired: the machine (KVM handles, memory), the
 * device actors on their buses, the exit router between the vCPUs and the devices, the vCPU
 * actors; and the order they are released in. The VM actor owns one while it runs.
 */
final class VmRuntime {
    final Machine machine;
    final VmDevices devices;
    final VcpuGroup vcpus;
    /** Cleared before the VM fd is closed: a late interrupt from a device must not reach a reused fd number. */
    private final AtomicBoolean irqchipOpen;
    /** Debug exits and a debugger's access to registers and memory. */
    final GuestDebugger debugger;

    private VmRuntime(Machine machine, VmDevices devices, VcpuGroup vcpus, AtomicBoolean irqchipOpen, GuestDebugger debugger) {
        this.machine = machine;
        this.devices = devices;
        this.vcpus = vcpus;
        this.irqchipOpen = irqchipOpen;
        this.debugger = debugger;
    }

    /**
     * Attaches {@code config}'s devices to {@code machine} (restoring their state when the machine
     * came from a snapshot) and spawns the vCPU actors, as children of {@code ctx}. No vCPU runs yet.
     */
    static VmRuntime wire(ActorContext<?> ctx, VmConfig config, HostSources sources, ActorRef<ConsoleHub.Command> console,
                          Machine machine, VmControl control, IoStats stats, ActorRef<VcpuActor.Stopped> vcpuStopped) {
        AtomicBoolean irqchipOpen = new AtomicBoolean(true);
        VmDevices devices = VmDevices.attach(ctx, config, sources, console, machine, control, irqchipOpen);
        devices.restore(machine.restoredDeviceStates);
        ExitRouter router = new ExitRouter(devices.ports, devices.mmio, machine.ring, stats);
        GuestDebugger debugger = new GuestDebugger(machine.vcpus, machine.memory,
                machine.vm.checkExtension(io.actorvm.kvm.Capability.SET_GUEST_DEBUG2));
        return new VmRuntime(machine, devices, VcpuGroup.spawn(ctx, machine.vcpus, router, vcpuStopped, debugger), irqchipOpen, debugger);
    }

    /**
     * After the VM actor stopped without the usual stop: its children (vCPUs, devices) have
     * stopped already, the vCPU threads are out of KVM_RUN; the machine's fds, threads, taps and
     * memory are released, and the switch ports let go.
     */
    void releaseAfterAbnormalStop() {
        devices.closePorts();
        devices.closeRecording();
        irqchipOpen.set(false);
        machine.close();
    }

    /** Once every vCPU has stopped and the devices have drained: device actors stopped, then KVM and memory released. */
    void release() {
        devices.stop();
        devices.closeRecording();
        irqchipOpen.set(false);
        machine.close();
    }
}
