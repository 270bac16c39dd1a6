package io.actorvm.boot;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.kvm.Sregs;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.mmu.GuestMemoryException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PvhBootTest {
    final AddressMap map = new AddressMap(16L << 20);
    final GuestMemory memory = GuestMemory.allocate(map);

    @AfterEach
    void close() {
        memory.close();
    }

    @Test
    void writesStartInfoMemmapAndCommandLine() {
        EntryState entry = PvhBoot.configure(memory, 0x100040, "console=ttyS0 n=5", map.e820());

        assertEquals(PvhBoot.START_INFO_MAGIC, memory.readInt(GuestAddress.of(BootLayout.START_INFO)));
        assertEquals(1, memory.readInt(GuestAddress.of(BootLayout.START_INFO + 4)));
        assertEquals(BootLayout.CMDLINE, memory.readLong(GuestAddress.of(BootLayout.START_INFO + 24)));
        assertEquals(BootLayout.MEMMAP, memory.readLong(GuestAddress.of(BootLayout.START_INFO + 40)));
        assertEquals(map.e820().size(), memory.readInt(GuestAddress.of(BootLayout.START_INFO + 48)));
        assertArrayEquals("console=ttyS0 n=5\0".getBytes(StandardCharsets.US_ASCII), memory.read(GuestAddress.of(BootLayout.CMDLINE), 18));

        // memmap: {addr, size, type, reserved} per entry; the 1 MiB+ RAM range is the third.
        long e = BootLayout.MEMMAP + 2 * 24;
        assertEquals(0x100000, memory.readLong(GuestAddress.of(e)));
        assertEquals((16L << 20) - 0x100000, memory.readLong(GuestAddress.of(e + 8)));
        assertEquals(1, memory.readInt(GuestAddress.of(e + 16)));

        assertEquals(0x100040, entry.regs().rip());
        assertEquals(BootLayout.START_INFO, entry.regs().rbx());
        assertEquals(0x2, entry.regs().rflags());
    }

    static Sregs resetSregs() {
        return new Sregs(io.actorvm.kvm.Segment.flat(0xF000, true, false), null, null, null, null, null,
                io.actorvm.kvm.Segment.flat(0, false, false), io.actorvm.kvm.Segment.flat(0, false, false),
                new io.actorvm.kvm.DescriptorTable(0, 0xFFFF), new io.actorvm.kvm.DescriptorTable(0, 0xFFFF),
                0x60000010L | Sregs.CR0_PG, 0, 0x1234, 0x20, 0, 0x500, 0xFEE00900L, new long[4]);
    }

    @Test
    void entryStateIsFlatProtectedModeWithPagingOff() {
        Sregs reset = resetSregs();
        Sregs s = PvhBoot.configure(memory, 0x100000, "", map.e820()).sregs().apply(reset);
        assertEquals(Sregs.CR0_PE, s.cr0() & Sregs.CR0_PE);
        assertEquals(0, s.cr0() & Sregs.CR0_PG);
        assertEquals(0, s.cr4());
        assertEquals(0, s.efer());
        assertEquals(0, s.cs().base());
        assertEquals(0xFFFFFFFF, s.cs().limit());
        assertEquals(true, s.cs().db());
        assertEquals(0xB, s.cs().type());
        assertEquals(0x3, s.ds().type());
        assertEquals(0xFEE00900L, s.apicBase());
    }

    @Test
    void initrdBecomesTheOnePvhModule() {
        byte[] file = ElfKernelTest.elf(18, "Xen", 0x100000);
        Bootloader.boot(file, new byte[5000], "", memory);
        assertEquals(1, memory.readInt(GuestAddress.of(BootLayout.START_INFO + 12)));
        assertEquals(BootLayout.MODLIST, memory.readLong(GuestAddress.of(BootLayout.START_INFO + 16)));
        long at = memory.readLong(GuestAddress.of(BootLayout.MODLIST));
        assertEquals(5000, memory.readLong(GuestAddress.of(BootLayout.MODLIST + 8)));
        assertEquals((16L << 20) - 8192, at); // highest page-aligned place in RAM
    }

    @Test
    void refusesOversizedCommandLines() {
        String tooLong = "x".repeat(BootLayout.CMDLINE_MAX);
        assertThrows(IllegalArgumentException.class, () -> PvhBoot.configure(memory, 0x100000, tooLong, map.e820()));
    }

    @Test
    void kernelOutsideRamIsRefusedBeforeAnyCopy() {
        byte[] file = ElfKernelTest.elf(18, "Xen", 0x100000);
        ElfKernel k = ElfKernel.parse(file);
        ElfKernel beyond = new ElfKernel(k.pvhEntry(), java.util.List.of(new ElfKernel.LoadSegment(16L << 20, 0, 16, 32)));
        assertThrows(KernelFormatException.class, () -> KernelLoader.load(beyond, file, memory));
        ElfKernel low = new ElfKernel(k.pvhEntry(), java.util.List.of(new ElfKernel.LoadSegment(0x6000, 0, 16, 32)));
        assertThrows(KernelFormatException.class, () -> KernelLoader.load(low, file, memory));
        KernelLoader.load(k, file, memory);
        assertEquals((byte) 0xA0, memory.read(GuestAddress.of(0x100000), 1)[0]);
        assertEquals(0, memory.read(GuestAddress.of(0x100010), 1)[0]); // BSS zeroed
        assertThrows(GuestMemoryException.class, () -> memory.read(GuestAddress.of(16L << 20), 1));
    }
}
