package io.actorvm.devices;

/**
 * A device model on the I/O bus. Deterministic and single-threaded: its hosting actor calls it
 * one message at a time. Offsets are relative to the device's range; values are little-endian,
 * {@code size} bytes (1, 2, 4 or 8). Guest input is untrusted: a model never throws for a bad
 * register access, it ignores or flags it.
 */
public interface BusDevice {
    /** A short name for logs and metrics, e.g. {@code serial@0x3f8}. */
    String name();

    /** A guest read; the low {@code size} bytes of the result are returned to the guest. */
    long read(long offset, int size);

    /** A guest write. */
    void write(long offset, int size, long value);

    /**
     * Called by the host after it handled a run of guest writes: hand on any host-side output the
     * model gathered meanwhile (the UART's transmitted bytes go on as one chunk, not byte by byte).
     */
    default void flush() {}

    /** The device's counters, as its own metrics record. */
    DeviceMetrics metrics();
}
