package io.actorvm.vmm.actors.snapshot;

import io.actorvm.kvm.CpuidEntry;
import io.actorvm.persistence.IncompatibleSnapshotException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPU feature words a guest saw (CPUID leaf 1 ECX/EDX, leaf 7.0 EBX/ECX/EDX, leaf 0x80000001
 * ECX/EDX), kept with a snapshot so a restore on a host that lacks one of them is refused up front
 * instead of faulting in the guest later.
 */
final class CpuFeatureCheck {
    static final String BLOB_NAME = "cpu-features";
    private static final int[][] WORDS = {{1, 0, 'c'}, {1, 0, 'd'}, {7, 0, 'b'}, {7, 0, 'c'}, {7, 0, 'd'},
            {0x8000_0001, 0, 'c'}, {0x8000_0001, 0, 'd'}};
    private static final String[] NAMES = {"leaf 1 ECX", "leaf 1 EDX", "leaf 7 EBX", "leaf 7 ECX", "leaf 7 EDX",
            "leaf 0x80000001 ECX", "leaf 0x80000001 EDX"};
    /** Leaf 1 ECX bit 27 (OSXSAVE) mirrors the guest's CR4 and bit 31 is our hypervisor flag: not host features. */
    private static final int LEAF1_ECX_IGNORED = (1 << 27) | (1 << 31);

    private CpuFeatureCheck() {}

    static int[] words(List<CpuidEntry> cpuid) {
        int[] out = new int[WORDS.length];
        for (int i = 0; i < WORDS.length; i++) {
            for (CpuidEntry e : cpuid) {
                if (e.function() == WORDS[i][0] && e.index() == WORDS[i][1]) {
                    out[i] = switch (WORDS[i][2]) {
                        case 'b' -> e.ebx();
                        case 'c' -> e.ecx();
                        default -> e.edx();
                    };
                }
            }
        }
        out[0] &= ~LEAF1_ECX_IGNORED;
        return out;
    }

    static byte[] encode(List<CpuidEntry> cpuid) {
        ByteBuffer b = ByteBuffer.allocate(4 * WORDS.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int w : words(cpuid)) b.putInt(w);
        return b.array();
    }

    static void requireSubset(String snapshotId, byte[] recorded, List<CpuidEntry> host) {
        ByteBuffer b = ByteBuffer.wrap(recorded).order(ByteOrder.LITTLE_ENDIAN);
        int[] have = words(host);
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < WORDS.length && b.remaining() >= 4; i++) {
            int lacking = b.getInt() & ~have[i];
            for (int bit = 0; bit < 32; bit++) if ((lacking & (1 << bit)) != 0) missing.add(NAMES[i] + " bit " + bit);
        }
        if (!missing.isEmpty()) {
            throw new IncompatibleSnapshotException("snapshot " + snapshotId + " needs CPU features this host lacks: " + String.join(", ", missing));
        }
    }
}
