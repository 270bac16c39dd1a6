package io.actorvm.vmm.actors.console;

/**
 * Bytes the guest wrote to its serial console (COM1), in the order it wrote them: what a console
 * subscriber receives. Every subscriber gets the same array: read it, do not modify it.
 */
public record ConsoleOutput(byte[] bytes) {}
