package io.actorvm.boot;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ElfKernelTest {
    static final int EHDR = 64, PHDR = 56;

    /** A minimal ELF64 x86-64 image: PT_LOAD of 16 bytes at 1 MiB (memsz 32) and a PT_NOTE with the PVH entry. */
    static byte[] elf(int noteType, String noteName, int entry) {
        int noteOff = EHDR + 2 * PHDR;
        int noteSize = 12 + 4 + 4;
        int loadOff = noteOff + noteSize;
        ByteBuffer b = ByteBuffer.allocate(loadOff + 16).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1);
        b.putLong(24, 0x100000).putLong(32, EHDR);
        b.putShort(52, (short) EHDR).putShort(54, (short) PHDR).putShort(56, (short) 2);
        // PT_LOAD
        int p = EHDR;
        b.putInt(p, 1).putInt(p + 4, 5).putLong(p + 8, loadOff).putLong(p + 16, 0x100000).putLong(p + 24, 0x100000)
                .putLong(p + 32, 16).putLong(p + 40, 32);
        // PT_NOTE
        p += PHDR;
        b.putInt(p, 4).putLong(p + 8, noteOff).putLong(p + 32, noteSize).putLong(p + 40, noteSize);
        b.putInt(noteOff, 4).putInt(noteOff + 4, 4).putInt(noteOff + 8, noteType);
        byte[] name = Arrays.copyOf(noteName.getBytes(), 4);
        b.put(noteOff + 12, name).putInt(noteOff + 16, entry);
        for (int i = 0; i < 16; i++) b.put(loadOff + i, (byte) (0xA0 + i));
        return b.array();
    }

    @Test
    void parsesLoadSegmentsAndPvhEntry() {
        ElfKernel k = ElfKernel.parse(elf(18, "Xen", 0x100004));
        assertEquals(0x100004, k.pvhEntry());
        assertEquals(1, k.segments().size());
        ElfKernel.LoadSegment s = k.segments().getFirst();
        assertEquals(0x100000, s.physAddress());
        assertEquals(16, s.fileSize());
        assertEquals(32, s.memSize());
    }

    @Test
    void refusesKernelsWithoutPvhNote() {
        var e = assertThrows(KernelFormatException.class, () -> ElfKernel.parse(elf(17, "Xen", 0x100004)));
        assertTrue(e.getMessage().contains("no PVH entry note"), e.getMessage());
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(elf(18, "Foo", 0x100004)));
    }

    @Test
    void refusesNonElfAndForeignFiles() {
        assertEquals("not an ELF file", assertThrows(KernelFormatException.class, () -> ElfKernel.parse("hello".getBytes())).getMessage());
        byte[] arm = elf(18, "Xen", 0x100004);
        arm[18] = (byte) 183; // EM_AARCH64
        assertTrue(assertThrows(KernelFormatException.class, () -> ElfKernel.parse(arm)).getMessage().contains("not for x86"));
        byte[] bigEndian = elf(18, "Xen", 0x100004);
        bigEndian[5] = 2;
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(bigEndian));
    }

    @Test
    void everyTruncationIsAOneLineErrorNotACrash() {
        byte[] good = elf(18, "Xen", 0x100004);
        for (int len = 0; len < good.length; len++) {
            byte[] cut = Arrays.copyOf(good, len);
            var e = assertThrows(KernelFormatException.class, () -> ElfKernel.parse(cut), "length " + len);
            assertTrue(!e.getMessage().contains("\n"));
        }
    }

    @Test
    void hostileHeaderFieldsAreRefused() {
        byte[] hugePhoff = elf(18, "Xen", 0x100004);
        ByteBuffer.wrap(hugePhoff).order(ByteOrder.LITTLE_ENDIAN).putLong(32, Long.MAX_VALUE - 10);
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(hugePhoff));

        byte[] manyPhdrs = elf(18, "Xen", 0x100004);
        ByteBuffer.wrap(manyPhdrs).order(ByteOrder.LITTLE_ENDIAN).putShort(56, (short) 0xFFFF);
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(manyPhdrs));

        byte[] segmentPastEnd = elf(18, "Xen", 0x100004);
        ByteBuffer.wrap(segmentPastEnd).order(ByteOrder.LITTLE_ENDIAN).putLong(EHDR + 32, 1L << 40);
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(segmentPastEnd));

        byte[] memszBelowFilesz = elf(18, "Xen", 0x100004);
        ByteBuffer.wrap(memszBelowFilesz).order(ByteOrder.LITTLE_ENDIAN).putLong(EHDR + 40, 8);
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(memszBelowFilesz));

        byte[] wrappingAddress = elf(18, "Xen", 0x100004);
        ByteBuffer.wrap(wrappingAddress).order(ByteOrder.LITTLE_ENDIAN).putLong(EHDR + 24, -16L);
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(wrappingAddress));

        byte[] noteSizeLies = elf(18, "Xen", 0x100004);
        ByteBuffer.wrap(noteSizeLies).order(ByteOrder.LITTLE_ENDIAN).putInt(EHDR + 2 * PHDR, 0x7FFFFFF0);
        assertThrows(KernelFormatException.class, () -> ElfKernel.parse(noteSizeLies)); // no usable note left
    }
}
