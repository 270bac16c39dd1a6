package io.actorvm.vmm.actors;

import io.actorvm.devices.VmControl;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What the device models may ask of the machine (a reset through the i8042 or the ACPI reset
 * register, a debug exit, an ACPI power-off), as messages to the VM actor: each ends the VM.
 */
record GuestRequests(ActorRef<Vm.Command> vm) implements VmControl {
    @Override
    public void requestReset(String reason) {
        vm.tell(new Vm.GuestEnded(new Vm.Terminated(reason, 0, false)));
    }

    @Override
    public void requestExit(int status) {
        vm.tell(new Vm.GuestEnded(new Vm.Terminated("guest exited with status " + status, status, false)));
    }

    @Override
    public void requestPowerOff() {
        vm.tell(new Vm.GuestEnded(new Vm.Terminated("guest powered off", 0, false)));
    }
}
