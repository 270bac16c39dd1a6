package io.actorvm.boot;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.kvm.Sregs;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinuxBootTest {
    final AddressMap map = new AddressMap(64L << 20);
    final GuestMemory memory = GuestMemory.allocate(map);

    @AfterEach
    void close() {
        memory.close();
    }

    @Test
    void zeroPageCarriesHeaderCommandLineInitrdAndE820() {
        byte[] file = BzImageTest.bzImage(0x020F, 4096);
        BzImage image = BzImage.parse(file);
        byte[] initrd = new byte[10000];
        EntryState entry = Bootloader.boot(file, initrd, "console=ttyS0 reboot=k", memory);

        long zp = BootLayout.ZERO_PAGE;
        // The setup header is copied (up to vid_mode at 0x1FA, which we set to "normal").
        assertArrayEquals(java.util.Arrays.copyOfRange(image.setupHeader(), 0, 9), memory.read(GuestAddress.of(zp + 0x1F1), 9));
        assertEquals((short) 0xFFFF, (short) (memory.readInt(GuestAddress.of(zp + 0x1FA)) & 0xFFFF));
        assertEquals((byte) 0xFF, memory.read(GuestAddress.of(zp + 0x210), 1)[0]);               // type_of_loader
        assertEquals((byte) 0x81, memory.read(GuestAddress.of(zp + 0x211), 1)[0]);               // LOADED_HIGH | CAN_USE_HEAP
        assertEquals(0x1000000, memory.readInt(GuestAddress.of(zp + 0x214)));                    // code32_start
        assertEquals((int) BootLayout.CMDLINE, memory.readInt(GuestAddress.of(zp + 0x228)));
        assertArrayEquals("console=ttyS0 reboot=k\0".getBytes(StandardCharsets.US_ASCII), memory.read(GuestAddress.of(BootLayout.CMDLINE), 23));
        long initrdAt = Integer.toUnsignedLong(memory.readInt(GuestAddress.of(zp + 0x218)));
        assertEquals(10000, memory.readInt(GuestAddress.of(zp + 0x21C)));
        assertEquals(0, initrdAt % 4096);
        assertTrue(initrdAt + 10000 <= 64L << 20 && initrdAt >= 0x1000000 + 0x400000, "initrd high in RAM, after init_size");
        assertEquals(map.e820().size(), memory.read(GuestAddress.of(zp + 0x1E8), 1)[0]);
        assertEquals(0x100000, memory.readLong(GuestAddress.of(zp + 0x2D0 + 2 * 20)));           // third e820 entry: RAM from 1 MiB
        assertEquals(1, memory.readInt(GuestAddress.of(zp + 0x2D0 + 2 * 20 + 16)));

        assertEquals(0x1000000 + 0x200, entry.regs().rip());
        assertEquals(zp, entry.regs().rsi());
        assertEquals((byte) 0, memory.read(GuestAddress.of(0x1000000), 1)[0]);                   // kernel bytes copied
        assertEquals((byte) 77, memory.read(GuestAddress.of(0x1000000 + 77), 1)[0]);
    }

    @Test
    void entryIsLongModeWithIdentityPagingAndFlatGdt() {
        byte[] file = BzImageTest.bzImage(0x020F, 4096);
        EntryState entry = Bootloader.boot(file, null, "", memory);
        Sregs reset = PvhBootTest.resetSregs();
        Sregs s = entry.sregs().apply(reset);
        assertEquals(LinuxBoot.EFER_LME | LinuxBoot.EFER_LMA, s.efer());
        assertEquals(LinuxBoot.CR4_PAE, s.cr4());
        assertTrue((s.cr0() & LinuxBoot.CR0_PG) != 0 && (s.cr0() & LinuxBoot.CR0_PE) != 0);
        assertEquals(BootLayout.PML4, s.cr3());
        assertTrue(s.cs().l());
        assertEquals(0x10, s.cs().selector());
        assertEquals(0x18, s.ds().selector());
        assertEquals(BootLayout.GDT, s.gdt().base());
        // Page tables: PML4[0] → PDPT, PDPT[3] → 4th PD, PD entry 1000 maps 1000 * 2 MiB as a large page.
        assertEquals(BootLayout.PDPT | 3, memory.readLong(GuestAddress.of(BootLayout.PML4)));
        assertEquals((BootLayout.PD + 3 * 4096) | 3, memory.readLong(GuestAddress.of(BootLayout.PDPT + 24)));
        assertEquals((1000L << 21) | 0x83, memory.readLong(GuestAddress.of(BootLayout.PD + 1000 * 8)));
        assertEquals(0x00AF9B000000FFFFL, memory.readLong(GuestAddress.of(BootLayout.GDT + 16)));
    }

    @Test
    void kernelsAndInitrdsThatDoNotFitAreOneLineErrors() {
        try (GuestMemory small = GuestMemory.allocate(new AddressMap(16L << 20))) {
            byte[] file = BzImageTest.bzImage(0x020F, 4096); // pref_address 16 MiB: beyond a 16 MiB guest
            assertTrue(assertThrows(KernelFormatException.class, () -> Bootloader.boot(file, null, "", small)).getMessage()
                    .contains("give the VM more memory"));
        }
        byte[] file = BzImageTest.bzImage(0x020F, 4096);
        assertThrows(KernelFormatException.class, () -> Bootloader.boot(file, new byte[60 << 20], "", memory));
        assertThrows(KernelFormatException.class, () -> Bootloader.boot(file, null, "x".repeat(3000), memory));
    }

    @Test
    void initrdPlacementIsHighAlignedAndBounded() {
        assertEquals(0x3FFF000, InitrdPlacement.place(100, 0x4000000, 0xFFFFFFFFL, 0x2000000));
        assertEquals(0x1000000 - 0x2000, InitrdPlacement.place(0x1800, 0x4000000, 0xFFFFFF, 0x200000)); // under addr max
        assertThrows(KernelFormatException.class, () -> InitrdPlacement.place(0x3000000, 0x4000000, 0xFFFFFFFFL, 0x2000000));
        assertThrows(KernelFormatException.class, () -> InitrdPlacement.place(0, 0x4000000, 0xFFFFFFFFL, 0x2000000));
        assertThrows(KernelFormatException.class, () -> InitrdPlacement.place(Long.MAX_VALUE, 0x4000000, 0xFFFFFFFFL, 0));
    }
}
