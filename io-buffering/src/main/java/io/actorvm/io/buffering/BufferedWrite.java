package io.actorvm.io.buffering;

/**
 * A guest write that needs no immediate answer: a port or MMIO store routed to a device at
 * {@code offset} inside its range. Value is little-endian, zero-extended, {@code size} bytes.
 */
public record BufferedWrite(long offset, int size, long value) {}
