package io.actorvm.boot;

import io.actorvm.kvm.CpuidEntry;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class CpuidTemplateTest {
    final List<CpuidEntry> host = List.of(
            new CpuidEntry(0, 0, 0, 0xD, 0x68747541, 0x444D4163, 0x69746E65),
            new CpuidEntry(1, 0, 0, 0x00A00F11, 0x0F0F0800, 0x7ED8320B, 0x178BFBFF),
            new CpuidEntry(0xB, 0, 1, 1, 2, 0x100, 0x0F),
            new CpuidEntry(0xB, 1, 1, 4, 16, 0x201, 0x0F));

    @Test
    void eachVcpuSeesItsOwnApicIdAndTheCpuCount() {
        List<CpuidEntry> cpu3 = CpuidTemplate.forVcpu(host, 3, 4);
        CpuidEntry leaf1 = cpu3.get(1);
        assertEquals(3, leaf1.ebx() >>> 24);
        assertEquals(4, (leaf1.ebx() >>> 16) & 0xFF);
        assertEquals(0x0800, leaf1.ebx() & 0xFFFF); // brand/CLFLUSH fields kept
        assertNotEquals(0, leaf1.ecx() & (1 << 31)); // hypervisor present
        assertNotEquals(0, leaf1.edx() & (1 << 28)); // HTT: count is valid
        assertEquals(3, cpu3.get(2).edx());
        assertEquals(3, cpu3.get(3).edx());
        assertEquals(4, cpu3.get(3).ebx()); // 4 logical CPUs at core level
        assertEquals(2, cpu3.get(3).eax()); // 2 bits of core id
        assertEquals(1, cpu3.get(2).ebx()); // 1 thread per core
        assertEquals(host.getFirst(), cpu3.getFirst()); // other leaves untouched
    }

    @Test
    void singleCpuGuestHasNoHtt() {
        CpuidEntry leaf1 = CpuidTemplate.forVcpu(host, 0, 1).get(1);
        assertEquals(0, leaf1.ebx() >>> 24);
        assertEquals(1, (leaf1.ebx() >>> 16) & 0xFF);
        assertEquals(0x178BFBFF & ~(1 << 28), leaf1.edx() & ~(1 << 28));
    }
}
