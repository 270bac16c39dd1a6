package io.actorvm.kvm;

/**
 * One extended control register, {@code struct kvm_xcr}: {@code index} 0 is XCR0, the XSAVE feature
 * mask (bit 0 x87, bit 1 SSE, bit 2 AVX, ...). KVM_SET_XCRS refuses an XCR0 with bits the vCPU's
 * CPUID (leaf 0xD) does not allow, so the CPUID must be set first.
 */
public record Xcr(int index, long value) {
    public static final int XCR0 = 0;
}
