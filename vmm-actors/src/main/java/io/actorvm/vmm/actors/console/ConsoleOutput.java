package io.actorvm.vmm.actors.console;

import io.actorvm.persistence.KryoSerializable;

/**
 * Bytes the guest wrote to its serial console (COM1), in the order it wrote them: what a console
 * subscriber receives (on this node or another: it crosses JVMs). Every local subscriber gets the
 * same array: read it, do not modify it.
 */
public record ConsoleOutput(byte[] bytes) implements KryoSerializable {}
