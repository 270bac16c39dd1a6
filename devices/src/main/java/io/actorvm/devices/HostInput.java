package io.actorvm.devices;

/** A device that takes bytes from the host side (a UART's receive buffer, fed by the console). */
public interface HostInput {
    /** Queues {@code data} for the guest; returns how many bytes fit (the rest are dropped and counted). */
    int receive(byte[] data);
}
