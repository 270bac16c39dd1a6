package io.actorvm.boot;

import io.actorvm.kvm.CpuidEntry;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * CPUID feature flags a user may take away from the guest, named as QEMU's {@code -cpu host,-flag}
 * names them. Hiding a feature makes the guest take its fallback path: useful when a host cannot
 * run an instruction (an emulating nested hypervisor without {@code cmpxchg16b}) or to make a VM
 * migratable to older hosts.
 */
public enum CpuFeature {
    SSE4_2(1, Register.ECX, 20), X2APIC(1, Register.ECX, 21), POPCNT(1, Register.ECX, 23), AES(1, Register.ECX, 25),
    CX16(1, Register.ECX, 13), XSAVE(1, Register.ECX, 26), AVX(1, Register.ECX, 28), RDRAND(1, Register.ECX, 30),
    AVX2(7, Register.EBX, 5), AVX512F(7, Register.EBX, 16), RDSEED(7, Register.EBX, 18),
    PDPE1GB(0x8000_0001, Register.EDX, 26), RDTSCP(0x8000_0001, Register.EDX, 27);

    enum Register { EBX, ECX, EDX }

    final int leaf;
    final Register register;
    final int bit;

    CpuFeature(int leaf, Register register, int bit) {
        this.leaf = leaf;
        this.register = register;
        this.bit = bit;
    }

    public String flag() {
        return name().toLowerCase(Locale.ROOT).replace('_', '.');
    }

    /** Parses "-cx16,-xsave" (a leading '-' is optional); unknown names are a one-line error. */
    public static Set<CpuFeature> parseDisabled(String spec) {
        Set<CpuFeature> out = EnumSet.noneOf(CpuFeature.class);
        if (spec == null || spec.isBlank()) return out;
        for (String part : spec.split(",")) {
            String name = part.trim();
            if (name.startsWith("-")) name = name.substring(1);
            CpuFeature found = null;
            for (CpuFeature f : values()) if (f.flag().equals(name.toLowerCase(Locale.ROOT))) found = f;
            if (found == null) {
                StringBuilder known = new StringBuilder();
                for (CpuFeature f : values()) known.append(known.isEmpty() ? "" : ", ").append(f.flag());
                throw new IllegalArgumentException("unknown CPU feature '" + name + "' (known: " + known + ")");
            }
            out.add(found);
        }
        return out;
    }

    /** The entry with this feature's bit cleared, if the entry is this feature's leaf. */
    CpuidEntry clear(CpuidEntry e) {
        if (e.function() != leaf || (leaf == 7 && e.index() != 0)) return e;
        int mask = ~(1 << bit);
        return switch (register) {
            case EBX -> e.withEbx(e.ebx() & mask);
            case ECX -> e.withEcx(e.ecx() & mask);
            case EDX -> e.withEdx(e.edx() & mask);
        };
    }
}
