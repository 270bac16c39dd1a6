package io.actorvm.devices.serial;

/** Where transmitted bytes go: the host side of the UART (a terminal, a file, a test's buffer). */
@FunctionalInterface
public interface SerialOutput {
    void transmit(byte b);
}
