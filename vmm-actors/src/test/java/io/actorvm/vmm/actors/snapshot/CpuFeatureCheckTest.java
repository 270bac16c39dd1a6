package io.actorvm.vmm.actors.snapshot;

import io.actorvm.kvm.CpuidEntry;
import io.actorvm.persistence.IncompatibleSnapshotException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CpuFeatureCheckTest {
    static List<CpuidEntry> cpu(int leaf1Ecx, int leaf7Ebx) {
        return List.of(new CpuidEntry(1, 0, 0, 0, 0, leaf1Ecx, 0x178BFBFF), new CpuidEntry(7, 0, 1, 0, leaf7Ebx, 0, 0));
    }

    @Test
    void aHostWithEveryRecordedFeatureMayRestore() {
        byte[] recorded = CpuFeatureCheck.encode(cpu(1 << 13, 1 << 5));
        assertDoesNotThrow(() -> CpuFeatureCheck.requireSubset("s", recorded, cpu((1 << 13) | (1 << 20), (1 << 5) | 1)));
    }

    @Test
    void aMissingFeatureIsAOneLineRefusalNamingIt() {
        byte[] recorded = CpuFeatureCheck.encode(cpu((1 << 13) | (1 << 27), 1 << 5)); // CX16, OSXSAVE (ignored), AVX2
        var e = assertThrows(IncompatibleSnapshotException.class, () -> CpuFeatureCheck.requireSubset("s1", recorded, cpu(0, 0)));
        assertEquals("snapshot s1 needs CPU features this host lacks: leaf 1 ECX bit 13, leaf 7 EBX bit 5", e.getMessage());
    }
}
