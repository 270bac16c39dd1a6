package io.actorvm.boot;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BzImageTest {
    /** A synthetic bzImage: 4 setup sectors + boot sector, then {@code kernelBytes} of "kernel". */
    static byte[] bzImage(int version, int kernelBytes) {
        int kernelOffset = 5 * 512;
        ByteBuffer b = ByteBuffer.allocate(kernelOffset + kernelBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1F1, (byte) 4);                       // setup_sects
        b.putInt(0x1F4, kernelBytes / 16);            // syssize
        b.putShort(0x1FE, (short) 0xAA55);
        b.put(0x200, (byte) 0xEB).put(0x201, (byte) 0x6A); // jmp over the header: header ends at 0x26C
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) version);
        b.put(0x211, (byte) 0x01);                    // LOADED_HIGH
        b.putInt(0x22C, 0x7FFFFFFF);                  // initrd_addr_max
        b.putInt(0x230, 0x200000);                    // kernel_alignment
        b.put(0x234, (byte) 1);                       // relocatable
        b.putShort(0x236, (short) 0x3);               // XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G
        b.putInt(0x238, 2047);                        // cmdline_size
        b.putInt(0x248, 0x10).putInt(0x24C, 0x20);    // payload
        b.putLong(0x258, 0x1000000);                  // pref_address
        b.putInt(0x260, 0x400000);                    // init_size
        for (int i = 0; i < kernelBytes; i++) b.put(kernelOffset + i, (byte) i);
        return b.array();
    }

    @Test
    void parsesTheSetupHeader() {
        byte[] file = bzImage(0x020F, 4096);
        BzImage k = BzImage.parse(file);
        assertEquals(0x020F, k.protocolVersion());
        assertEquals(0x1000000, k.prefAddress());
        assertEquals(0x400000, k.initSize());
        assertEquals(0x7FFFFFFF, k.initrdAddrMax());
        assertEquals(2047, k.cmdlineSize());
        assertEquals(5 * 512, k.kernelOffset());
        assertEquals(4096, k.kernelSize());
        assertTrue(k.relocatable());
        assertEquals(0x26C - 0x1F1, k.setupHeader().length);
        assertArrayEquals(Arrays.copyOfRange(file, 5 * 512 + 0x10, 5 * 512 + 0x30), k.payload(file));
    }

    @Test
    void refusesOldForeignTruncatedAndOddKernels() {
        assertTrue(assertThrows(KernelFormatException.class, () -> BzImage.parse(bzImage(0x020B, 4096))).getMessage().contains("2.11 is too old"));
        assertThrows(KernelFormatException.class, () -> BzImage.parse(new byte[0x300]));
        byte[] truncated = Arrays.copyOf(bzImage(0x020F, 4096), 5 * 512 + 100);
        assertTrue(assertThrows(KernelFormatException.class, () -> BzImage.parse(truncated)).getMessage().contains("truncated"));
        byte[] no64 = bzImage(0x020F, 4096);
        no64[0x236] = 0;
        assertTrue(assertThrows(KernelFormatException.class, () -> BzImage.parse(no64)).getMessage().contains("64-bit"));
        byte[] badAlign = bzImage(0x020F, 4096);
        ByteBuffer.wrap(badAlign).order(ByteOrder.LITTLE_ENDIAN).putInt(0x230, 0x300000);
        assertThrows(KernelFormatException.class, () -> BzImage.parse(badAlign));
        byte[] payloadOut = bzImage(0x020F, 4096);
        ByteBuffer.wrap(payloadOut).order(ByteOrder.LITTLE_ENDIAN).putInt(0x24C, 0x7FFFFFFF);
        assertThrows(KernelFormatException.class, () -> BzImage.parse(payloadOut));
        for (int len = 0; len < 0x300; len += 7) {
            byte[] cut = Arrays.copyOf(bzImage(0x020F, 4096), len);
            assertThrows(KernelFormatException.class, () -> Bootloader.check(cut), "length " + len);
        }
    }
}
