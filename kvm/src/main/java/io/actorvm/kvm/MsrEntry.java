package io.actorvm.kvm;

/** One model-specific register, {@code struct kvm_msr_entry}. */
public record MsrEntry(int index, long data) {}
