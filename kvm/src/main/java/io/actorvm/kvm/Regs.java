package io.actorvm.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** General-purpose registers, {@code struct kvm_regs}: 18 u64 in declaration order. */
public record Regs(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                   long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                   long rip, long rflags) {

    /** rflags bit 1 is reserved and always set. */
    public static final long RFLAGS_RESERVED = 0x2;

    /** All zero except the reserved rflags bit: a blank register file to start from. */
    public static Regs initial() {
        return new Regs(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, RFLAGS_RESERVED);
    }

    public static Regs read(MemorySegment s) {
        long[] v = new long[18];
        for (int i = 0; i < 18; i++) v[i] = s.get(JAVA_LONG, i * 8L);
        return new Regs(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                v[12], v[13], v[14], v[15], v[16], v[17]);
    }

    public void write(MemorySegment s) {
        long[] v = {rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags};
        for (int i = 0; i < 18; i++) s.set(JAVA_LONG, i * 8L, v[i]);
    }

    public Regs withRip(long value) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, value, rflags);
    }

    public Regs withRbx(long value) {
        return new Regs(rax, value, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRsi(long value) {
        return new Regs(rax, rbx, rcx, rdx, value, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }
}
