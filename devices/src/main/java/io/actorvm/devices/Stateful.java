package io.actorvm.devices;

/**
 * A device model whose state a snapshot keeps: {@link #state()} captures it as a record,
 * {@link #restore} puts a captured record back (into a freshly built model, before the guest runs),
 * and {@link #codec()} turns the record into bytes and back. A restored device raises no interrupt
 * by itself: the irqchip's own state is restored with the VM. Values in a restored record are
 * treated like guest input: masked or bounded, never trusted.
 */
public interface Stateful<S extends Record> {
    S state();

    void restore(S state);

    StateCodec<S, ?> codec();

    /** The state as bytes, through {@link #codec()}. */
    default byte[] encodedState() {
        return codec().encode(state());
    }

    /** Restores from bytes that {@link #encodedState()} produced; a {@link DeviceStateException} if they are not. */
    default void restoreEncoded(byte[] bytes) {
        restore(codec().decode(bytes));
    }
}
