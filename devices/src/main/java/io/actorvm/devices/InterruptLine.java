package io.actorvm.devices;

/** A device's interrupt output (an ISA IRQ line of the irqchip). */
@FunctionalInterface
public interface InterruptLine {
    void set(boolean level);

    InterruptLine NONE = level -> {};
}
