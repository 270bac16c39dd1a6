package io.actorvm.control.gdb;

import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Sregs;

import java.util.ArrayList;
import java.util.List;

/**
 * The registers gdb sees, in the order of the target description we send ({@link #TARGET_XML}):
 * gdb's x86-64 core set (general registers, rip, eflags, segment selectors, x87), SSE, the
 * segment bases, and the control registers in a feature of our own. The {@code g} packet is all
 * of them, each little-endian at its size.
 */
final class GdbRegisters {
    /** A register: name, size in bytes, and whether a write reaches KVM (general registers, rip, eflags). */
    record Register(String name, int bytes, String type, String group) {}

    static final String[] GENERAL = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    static final List<Register> ALL = registers();
    /** Registers 0-17 (the general registers, rip, eflags) can be written. */
    static final int WRITABLE = 18;

    private GdbRegisters() {
    }

    private static List<Register> registers() {
        List<Register> r = new ArrayList<>();
        for (String g : GENERAL) r.add(new Register(g, 8, g.equals("rbp") || g.equals("rsp") ? "data_ptr" : "int64", "general"));
        r.add(new Register("rip", 8, "code_ptr", "general"));
        r.add(new Register("eflags", 4, "int32", "general"));
        for (String s : new String[] {"cs", "ss", "ds", "es", "fs", "gs"}) r.add(new Register(s, 4, "int32", "general"));
        for (int i = 0; i < 8; i++) r.add(new Register("st" + i, 10, "i387_ext", "float"));
        for (String f : new String[] {"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"}) r.add(new Register(f, 4, "int", "float"));
        for (int i = 0; i < 16; i++) r.add(new Register("xmm" + i, 16, "uint128", "vector"));
        r.add(new Register("mxcsr", 4, "int", "vector"));
        r.add(new Register("fs_base", 8, "int64", "system"));
        r.add(new Register("gs_base", 8, "int64", "system"));
        for (String c : new String[] {"cr0", "cr2", "cr3", "cr4", "cr8", "efer"}) r.add(new Register(c, 8, "int64", "system"));
        return List.copyOf(r);
    }

    /** Our target description: the features in {@link #ALL}'s order, each register numbered in turn. */
    static final String TARGET_XML = targetXml();

    private static String targetXml() {
        StringBuilder x = new StringBuilder("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target>\n")
                .append("<architecture>i386:x86-64</architecture>\n");
        String[][] features = {{"org.gnu.gdb.i386.core", "rax", "fop"}, {"org.gnu.gdb.i386.sse", "xmm0", "mxcsr"},
                {"org.gnu.gdb.i386.segments", "fs_base", "gs_base"}, {"org.actorvm.x86.sys", "cr0", "efer"}};
        int n = 0;
        for (String[] f : features) {
            x.append("<feature name=\"").append(f[0]).append("\">\n");
            boolean in = false;
            for (int i = 0; i < ALL.size(); i++) {
                Register r = ALL.get(i);
                if (r.name().equals(f[1])) in = true;
                if (!in) continue;
                x.append("  <reg name=\"").append(r.name()).append("\" bitsize=\"").append(r.bytes() * 8).append("\" type=\"").append(r.type())
                        .append("\" group=\"").append(r.group()).append("\" regnum=\"").append(n++).append("\"/>\n");
                if (r.name().equals(f[2])) break;
            }
            x.append("</feature>\n");
        }
        return x.append("</target>\n").toString();
    }

    /** Every register's value in hex, as the {@code g} packet carries them. */
    static String encode(Regs r, Sregs s, byte[] fpu) {
        StringBuilder g = new StringBuilder();
        long[] general = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rbp(), r.rsp(),
                r.r8(), r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15()};
        for (long v : general) g.append(GdbPacket.littleEndian(v, 8));
        g.append(GdbPacket.littleEndian(r.rip(), 8)).append(GdbPacket.littleEndian(r.rflags(), 4));
        for (var seg : List.of(s.cs(), s.ss(), s.ds(), s.es(), s.fs(), s.gs())) g.append(GdbPacket.littleEndian(seg.selector(), 4));
        // struct kvm_fpu: fpr[8][16] at 0, fcw 128, fsw 130, ftwx 132, last_opcode 134, last_ip 136, last_dp 144, xmm[16][16] 152, mxcsr 408.
        for (int i = 0; i < 8; i++) g.append(GdbPacket.HEX.formatHex(fpu, i * 16, i * 16 + 10));
        int ftwx = fpu[132] & 0xFF, fullTag = 0;
        for (int i = 0; i < 8; i++) fullTag |= ((ftwx >> i & 1) != 0 ? 0b00 : 0b11) << (2 * i); // abridged → full: valid or empty
        g.append(GdbPacket.littleEndian(u16(fpu, 128), 4)).append(GdbPacket.littleEndian(u16(fpu, 130), 4))
                .append(GdbPacket.littleEndian(fullTag, 4)).append(GdbPacket.littleEndian(0, 4))
                .append(GdbPacket.littleEndian(u64(fpu, 136), 4)).append(GdbPacket.littleEndian(0, 4))
                .append(GdbPacket.littleEndian(u64(fpu, 144), 4)).append(GdbPacket.littleEndian(u16(fpu, 134), 4));
        for (int i = 0; i < 16; i++) g.append(GdbPacket.HEX.formatHex(fpu, 152 + i * 16, 168 + i * 16));
        g.append(GdbPacket.littleEndian(u64(fpu, 408) & 0xFFFF_FFFFL, 4));
        g.append(GdbPacket.littleEndian(s.fs().base(), 8)).append(GdbPacket.littleEndian(s.gs().base(), 8));
        for (long c : new long[] {s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer()}) g.append(GdbPacket.littleEndian(c, 8));
        return g.toString();
    }

    /** Register {@code n}'s hex out of a {@code g} packet's worth. */
    static String one(String all, int n) {
        int at = 0;
        for (int i = 0; i < n; i++) at += ALL.get(i).bytes() * 2;
        return all.substring(at, at + ALL.get(n).bytes() * 2);
    }

    /** {@code r} with writable register {@code n} (0-17) set to {@code value}. */
    static Regs with(Regs r, int n, long value) {
        long[] v = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rbp(), r.rsp(),
                r.r8(), r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        v[n] = n == 17 ? value & 0xFFFF_FFFFL : value;
        // gdb's order puts rbp before rsp; Regs has rsp before rbp.
        return new Regs(v[0], v[1], v[2], v[3], v[4], v[5], v[7], v[6], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17]);
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8;
    }

    private static long u64(byte[] b, int at) {
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[at + i] & 0xFF);
        return v;
    }
}
