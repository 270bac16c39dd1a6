package io.actorvm.devices.serial;

/** Where transmitted bytes go: the host side of the UART (a terminal, a file, a test's buffer). */
@FunctionalInterface
public interface SerialOutput {
    void transmit(byte b);

    /** The bytes transmitted since the last flush may go on together now (see {@code BusDevice#flush}). */
    default void flush() {}
}
