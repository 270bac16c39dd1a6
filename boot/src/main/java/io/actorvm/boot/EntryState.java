package io.actorvm.boot;

import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Sregs;

import java.util.function.UnaryOperator;

/**
 * The boot CPU's state at a kernel's entry point: its general registers, and how to turn the
 * special registers KVM initialised into the entry's (so fields we do not set keep KVM's values).
 */
public record EntryState(Regs regs, UnaryOperator<Sregs> sregs) {}
