package io.actorvm.devices;

/** Requests a device may make of the VM that hosts it. Asynchronous: the VM acts on them later. */
public interface VmControl {
    /** The guest asked for a CPU reset (e.g. through the i8042). */
    void requestReset(String reason);

    /** The guest powered itself off (ACPI S5). */
    void requestPowerOff();

    /** The guest asked to end with a status (debug-exit port). */
    void requestExit(int status);
}
