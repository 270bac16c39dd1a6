package io.actorvm.boot;

import io.actorvm.kvm.CpuidEntry;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CpuFeatureTest {
    @Test
    void parsesQemuStyleLists() {
        assertEquals(Set.of(CpuFeature.CX16, CpuFeature.XSAVE), CpuFeature.parseDisabled("-cx16,-xsave"));
        assertEquals(Set.of(CpuFeature.SSE4_2), CpuFeature.parseDisabled("sse4.2"));
        assertEquals(Set.of(), CpuFeature.parseDisabled(""));
        var e = assertThrows(IllegalArgumentException.class, () -> CpuFeature.parseDisabled("-cx16,-warp"));
        assertTrue(e.getMessage().startsWith("unknown CPU feature 'warp'"), e.getMessage());
    }

    @Test
    void hiddenFeaturesAreClearedOnlyInTheirLeaf() {
        List<CpuidEntry> host = List.of(new CpuidEntry(1, 0, 0, 0, 0, -1, -1), new CpuidEntry(7, 0, 1, 0, -1, -1, -1),
                new CpuidEntry(7, 1, 1, 0, -1, -1, -1));
        List<CpuidEntry> out = CpuidTemplate.forVcpu(host, 0, 1, Set.of(CpuFeature.CX16, CpuFeature.AVX2));
        assertEquals(0, out.get(0).ecx() & (1 << 13));
        assertEquals(1 << 12, out.get(0).ecx() & (1 << 12));
        assertEquals(0, out.get(1).ebx() & (1 << 5));
        assertEquals(-1, out.get(2).ebx()); // sub-leaf 1 of leaf 7 is another register set
    }
}
