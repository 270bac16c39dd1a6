package io.actorvm.devices;

/**
 * A device model whose registers a snapshot keeps: {@link #state()} captures them as a record,
 * {@link #restore} puts a captured record back (into a freshly built model, before the guest runs).
 * A restored device raises no interrupt by itself: the irqchip's own state is restored with the VM.
 */
public interface Stateful<S extends Record> {
    S state();

    void restore(S state);
}
