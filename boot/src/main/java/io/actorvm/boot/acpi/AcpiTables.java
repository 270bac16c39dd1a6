package io.actorvm.boot.acpi;

import io.actorvm.mmu.AddressMap;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The ACPI tables of a VM: RSDP → XSDT → FADT (→ DSDT) and MADT. Hardware-reduced ACPI, as
 * Firecracker and cloud-hypervisor do it: no PM timer or SCI, power-off and reset through one I/O
 * port ({@link #SLEEP_CONTROL_PORT}), CPUs and the IOAPIC described in the MADT. Linux kernels built
 * without MP-table support (Debian's cloud kernel) need the MADT to see more than one CPU.
 *
 * <p>Pure: {@link #build} lays the tables out from a base address and returns them as byte blobs.
 */
public final class AcpiTables {
    static final int RSDP_SIZE = 36, FADT_SIZE = 276, FADT_REVISION = 6, FADT_MINOR = 5, MADT_REVISION = 5;
    static final int FADT_HW_REDUCED = 1 << 20, FADT_RESET_REG_SUP = 1 << 10;
    static final int BOOT_ARCH_8042 = 1 << 1;
    /** Sleep type the DSDT's \_S5 names, and the value Linux then writes: SLP_TYP << 2 | SLP_EN. */
    public static final int S5_SLEEP_TYPE = 5;
    /**
     * The one I/O port the FADT names for sleep control, sleep status and reset (the VMM puts its
     * sleep-control device there), and the value that resets through it.
     */
    public static final int SLEEP_CONTROL_PORT = 0x600, RESET_VALUE = 0x01;

    /** One table placed at a guest-physical address. */
    public record Blob(long address, byte[] bytes) {}

    /** The tables, RSDP first; {@code rsdpAddress()} is what boot protocols hand to the kernel. */
    public record Tables(List<Blob> blobs) {
        public long rsdpAddress() {
            return blobs.getFirst().address();
        }

        public long end() {
            Blob last = blobs.getLast();
            return last.address() + last.bytes().length;
        }
    }

    private AcpiTables() {}

    /** A virtio-mmio device for the DSDT: its register window and interrupt. */
    public record MmioDevice(long base, long size, int gsi) {}

    public static Tables build(long base, int cpus) {
        return build(base, cpus, List.of());
    }

    public static Tables build(long base, int cpus, List<MmioDevice> virtio) {
        List<Blob> out = new ArrayList<>();
        long rsdp = base;
        long xsdt = align(rsdp + RSDP_SIZE);
        long fadt = align(xsdt + AcpiTable.HEADER_SIZE + 2 * 8);
        long dsdtAt = align(fadt + FADT_SIZE);
        byte[] dsdt = dsdt(virtio);
        long madtAt = align(dsdtAt + dsdt.length);
        byte[] madt = madt(cpus);

        out.add(new Blob(rsdp, rsdp(xsdt)));
        out.add(new Blob(xsdt, xsdt(fadt, madtAt)));
        out.add(new Blob(fadt, fadt(dsdtAt)));
        out.add(new Blob(dsdtAt, dsdt));
        out.add(new Blob(madtAt, madt));
        return new Tables(List.copyOf(out));
    }

    private static long align(long v) {
        return (v + 15) & ~15L;
    }

    static byte[] rsdp(long xsdt) {
        ByteBuffer b = ByteBuffer.allocate(RSDP_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(AcpiTable.ascii("RSD PTR ", 8)).put((byte) 0).put(AcpiTable.ascii(AcpiTable.OEM_ID, 6)).put((byte) 2)
                .putInt(0).putInt(RSDP_SIZE).putLong(xsdt).put((byte) 0).put(new byte[3]);
        byte[] t = b.array();
        t[8] = AcpiTable.checksum(t, 0, 20);        // ACPI 1.0 checksum over the first 20 bytes
        t[32] = AcpiTable.checksum(t, 0, RSDP_SIZE); // extended checksum over all
        return t;
    }

    static byte[] xsdt(long... tables) {
        ByteBuffer b = AcpiTable.begin("XSDT", AcpiTable.HEADER_SIZE + 8 * tables.length, 1);
        for (long t : tables) b.putLong(t);
        return AcpiTable.seal(b);
    }

    static byte[] fadt(long dsdt) {
        ByteBuffer b = AcpiTable.begin("FACP", FADT_SIZE, FADT_REVISION);
        b.putInt(40, (int) dsdt);
        b.putShort(109, (short) BOOT_ARCH_8042);
        b.putInt(112, FADT_HW_REDUCED | FADT_RESET_REG_SUP);
        AcpiTable.ioPortGas(b, 116, SLEEP_CONTROL_PORT);              // RESET_REG
        b.put(128, (byte) RESET_VALUE);                  // RESET_VALUE
        b.put(131, (byte) FADT_MINOR);
        b.putLong(140, dsdt);                                             // X_DSDT
        AcpiTable.ioPortGas(b, 244, SLEEP_CONTROL_PORT);              // SLEEP_CONTROL_REG
        AcpiTable.ioPortGas(b, 256, SLEEP_CONTROL_PORT);              // SLEEP_STATUS_REG
        b.put(268, AcpiTable.ascii("ACTORVM", 8));                        // hypervisor vendor identity
        return AcpiTable.seal(b);
    }

    /**
     * DSDT: {@code Name(_S5, Package(2) {5, 0})}, the sleep type Linux uses to power off; under
     * {@code \_SB} the ISA devices (COM1, the PS/2 controller, the CMOS RTC) with their ports and
     * interrupts, and one {@code LNRO0005} device per virtio-mmio window (Linux's virtio_mmio
     * driver binds to that id).
     *
     * <p>The ISA devices must be here: with hardware-reduced ACPI Linux has no legacy PIC and
     * maps no ISA interrupt by itself, so a driver that probes the fixed ports with the fixed IRQ
     * (serial8250's ISA ports, i8042, rtc_cmos) gets no interrupt, or fails with -EINVAL. Found
     * through their PNP ids, each gets its IRQ from {@code _CRS}, routed through the IOAPIC, as
     * under QEMU's microvm.
     */
    static byte[] dsdt(List<MmioDevice> virtio) {
        List<byte[]> devices = new ArrayList<>();
        devices.add(isaDevice("COM1", "PNP0501", 0, Aml.ioAndIsaIrq(4, 0x3F8, 8)));
        devices.add(isaDevice("PS2K", "PNP0303", 0, Aml.ioAndIsaIrq(1, 0x60, 1, 0x64, 1)));
        devices.add(isaDevice("RTC_", "PNP0B00", 0, Aml.ioAndIsaIrq(8, 0x70, 2)));
        for (int i = 0; i < virtio.size(); i++) {
            MmioDevice d = virtio.get(i);
            devices.add(Aml.device("VR%02X".formatted(i),
                    Aml.name("_HID", Aml.string("LNRO0005")),
                    Aml.name("_UID", Aml.integer(i)),
                    Aml.name("_CRS", Aml.buffer(Aml.mmioAndInterrupt(d.base(), d.size(), d.gsi())))));
        }
        byte[] aml = Aml.concat(Aml.name("_S5_", Aml.packageOf(Aml.integer(S5_SLEEP_TYPE), Aml.integer(0))),
                Aml.rootScope("_SB_", devices.toArray(byte[][]::new)));
        ByteBuffer b = AcpiTable.begin("DSDT", AcpiTable.HEADER_SIZE + aml.length, 2);
        b.put(aml);
        return AcpiTable.seal(b);
    }

    private static byte[] isaDevice(String name, String pnpId, int uid, byte[] resources) {
        return Aml.device(name, Aml.name("_HID", Aml.eisaId(pnpId)), Aml.name("_UID", Aml.integer(uid)),
                Aml.name("_CRS", Aml.buffer(resources)));
    }

    /** MADT: one enabled local APIC per vCPU (APIC id = processor UID = index), the IOAPIC, LINT1 as NMI. */
    static byte[] madt(int cpus) {
        int length = AcpiTable.HEADER_SIZE + 8 + cpus * 8 + 12 + 6;
        ByteBuffer b = AcpiTable.begin("APIC", length, MADT_REVISION);
        b.putInt((int) AddressMap.LAPIC_ADDRESS).putInt(0);
        for (int id = 0; id < cpus; id++) {
            b.put((byte) 0).put((byte) 8).put((byte) id).put((byte) id).putInt(1);
        }
        b.put((byte) 1).put((byte) 12).put((byte) cpus).put((byte) 0).putInt((int) AddressMap.IOAPIC_ADDRESS).putInt(0);
        b.put((byte) 4).put((byte) 6).put((byte) 0xFF).putShort((short) 0).put((byte) 1);
        return AcpiTable.seal(b);
    }
}
