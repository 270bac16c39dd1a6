package io.actorvm.boot;

import io.actorvm.mmu.AddressMap;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * An Intel MultiProcessor Specification 1.4 table: the floating pointer, then the configuration
 * table with one processor entry per vCPU, the ISA bus, the IOAPIC, ISA IRQs 0-15 wired to IOAPIC
 * pins 0-15 (as KVM's default GSI routing has them), and LINT0/LINT1 as ExtINT/NMI. Linux finds it
 * by scanning the last KiB of base memory. Pure: {@link #build} returns the bytes to place.
 */
public final class MpTable {
    static final int FLOATING_SIZE = 16, HEADER_SIZE = 44, PROCESSOR_SIZE = 20, ENTRY_SIZE = 8;
    static final int SPEC_REV = 4, APIC_VERSION = 0x14, IOAPIC_VERSION = 0x11;
    static final int ISA_IRQS = 16;
    static final int CPU_ENABLED = 1, CPU_BSP = 2;
    /** The most that fits in the 1 KiB area below 640 KiB. */
    public static final int MAX_CPUS = (1024 - FLOATING_SIZE - HEADER_SIZE - ENTRY_SIZE * (2 + ISA_IRQS + 2)) / PROCESSOR_SIZE;

    private MpTable() {}

    /** The table for {@code cpus} vCPUs with APIC ids 0..cpus-1, to be written at {@code address}. */
    public static byte[] build(long address, int cpus, int cpuSignature, int featureFlags) {
        if (cpus < 1 || cpus > MAX_CPUS) throw new IllegalArgumentException("the MP table holds 1 to " + MAX_CPUS + " CPUs, not " + cpus);
        int entries = cpus + 1 + 1 + ISA_IRQS + 2;
        int tableLength = HEADER_SIZE + cpus * PROCESSOR_SIZE + (entries - cpus) * ENTRY_SIZE;
        ByteBuffer b = ByteBuffer.allocate(FLOATING_SIZE + tableLength).order(ByteOrder.LITTLE_ENDIAN);
        int ioapicId = cpus; // distinct from every LAPIC id

        // Floating pointer structure.
        b.put("_MP_".getBytes(StandardCharsets.US_ASCII)).putInt((int) (address + FLOATING_SIZE))
                .put((byte) 1).put((byte) SPEC_REV).put((byte) 0).put(new byte[5]);
        b.put(10, checksum(b.array(), 0, FLOATING_SIZE));

        // Configuration table header; counts and checksum filled in at the end.
        int h = FLOATING_SIZE;
        b.put("PCMP".getBytes(StandardCharsets.US_ASCII)).putShort((short) tableLength).put((byte) SPEC_REV).put((byte) 0)
                .put(pad("ACTORVM", 8)).put(pad("KVM", 12)).putInt(0).putShort((short) 0).putShort((short) entries)
                .putInt((int) AddressMap.LAPIC_ADDRESS).putShort((short) 0).put((byte) 0).put((byte) 0);

        for (int id = 0; id < cpus; id++) {
            b.put((byte) 0).put((byte) id).put((byte) APIC_VERSION).put((byte) (CPU_ENABLED | (id == 0 ? CPU_BSP : 0)))
                    .putInt(cpuSignature).putInt(featureFlags).put(new byte[8]);
        }
        b.put((byte) 1).put((byte) 0).put(pad("ISA", 6));                                    // bus 0: ISA
        b.put((byte) 2).put((byte) ioapicId).put((byte) IOAPIC_VERSION).put((byte) 1).putInt((int) AddressMap.IOAPIC_ADDRESS);
        for (int irq = 0; irq < ISA_IRQS; irq++) {                                           // I/O interrupts
            b.put((byte) 3).put((byte) 0).putShort((short) 0).put((byte) 0).put((byte) irq).put((byte) ioapicId).put((byte) irq);
        }
        b.put((byte) 4).put((byte) 3).putShort((short) 0).put((byte) 0).put((byte) 0).put((byte) 0xFF).put((byte) 0); // LINT0: ExtINT
        b.put((byte) 4).put((byte) 1).putShort((short) 0).put((byte) 0).put((byte) 0).put((byte) 0xFF).put((byte) 1); // LINT1: NMI
        b.put(h + 7, checksum(b.array(), h, tableLength));
        return b.array();
    }

    private static byte[] pad(String s, int length) {
        byte[] out = new byte[length];
        java.util.Arrays.fill(out, (byte) ' ');
        byte[] src = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(src, 0, out, 0, Math.min(src.length, length));
        return out;
    }

    /** The byte that makes {@code length} bytes from {@code from} sum to zero. */
    static byte checksum(byte[] data, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) sum += data[i];
        return (byte) -sum;
    }
}
