package io.actorvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A Linux bzImage: its setup header (Documentation/arch/x86/boot.rst) and where the
 * protected-mode kernel and its compressed payload sit in the file. Parsing only, every field
 * checked against the file: a truncated, foreign or too-old kernel is a {@link KernelFormatException}.
 *
 * @param setupHeader the header bytes from offset 0x1F1 to its end, copied into the zero page
 */
public record BzImage(int protocolVersion, int loadFlags, int xloadFlags, boolean relocatable,
                      long kernelAlignment, long prefAddress, long initSize, long initrdAddrMax,
                      long cmdlineSize, long kernelOffset, long kernelSize, long payloadOffset,
                      long payloadLength, byte[] setupHeader) {

    static final int HEADER_START = 0x1F1;
    static final int BOOT_FLAG = 0xAA55, HDRS_MAGIC = 0x53726448; // "HdrS"
    /** 2.12 brought xloadflags (XLF_KERNEL_64), which the 64-bit entry we use depends on. */
    public static final int MIN_PROTOCOL = 0x020C;
    public static final int XLF_KERNEL_64 = 1, XLF_CAN_BE_LOADED_ABOVE_4G = 2;
    public static final int LOADED_HIGH = 0x01, CAN_USE_HEAP = 0x80;
    /** The 64-bit entry point is 0x200 bytes into the protected-mode kernel. */
    public static final long ENTRY_64_OFFSET = 0x200;

    public BzImage {
        setupHeader = setupHeader.clone();
    }

    @Override
    public byte[] setupHeader() {
        return setupHeader.clone();
    }

    public static boolean looksLikeBzImage(byte[] file) {
        if (file.length < 0x206) return false;
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        return Short.toUnsignedInt(b.getShort(0x1FE)) == BOOT_FLAG && b.getInt(0x202) == HDRS_MAGIC;
    }

    public static BzImage parse(byte[] file) {
        if (!looksLikeBzImage(file)) throw new KernelFormatException("not a Linux bzImage (no boot flag 0xAA55 / \"HdrS\" header)");
        if (file.length < 0x268) throw new KernelFormatException("bzImage setup header truncated");
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int version = Short.toUnsignedInt(b.getShort(0x206));
        if (version < MIN_PROTOCOL) {
            throw new KernelFormatException("bzImage boot protocol %d.%02d is too old (need 2.12 or newer)".formatted(version >> 8, version & 0xFF));
        }
        int headerEnd = 0x202 + Byte.toUnsignedInt(file[0x201]); // the jump at 0x200 skips the header
        if (headerEnd > file.length || headerEnd < 0x268) throw new KernelFormatException("bzImage setup header truncated");
        int setupSects = Byte.toUnsignedInt(file[HEADER_START]);
        if (setupSects == 0) setupSects = 4;
        long kernelOffset = (setupSects + 1L) * 512;
        if (kernelOffset >= file.length) throw new KernelFormatException("bzImage truncated: no protected-mode kernel after the setup code");
        long syssize = Integer.toUnsignedLong(b.getInt(0x1F4)) * 16;
        long kernelSize = file.length - kernelOffset;
        if (syssize > kernelSize) {
            throw new KernelFormatException("bzImage truncated: header says %d bytes of kernel, file has %d".formatted(syssize, kernelSize));
        }
        int xloadflags = Short.toUnsignedInt(b.getShort(0x236));
        if ((xloadflags & XLF_KERNEL_64) == 0) throw new KernelFormatException("bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)");
        int loadflags = Byte.toUnsignedInt(file[0x211]);
        if ((loadflags & LOADED_HIGH) == 0) throw new KernelFormatException("bzImage is a zImage (not loaded high)");
        long alignment = Integer.toUnsignedLong(b.getInt(0x230));
        if (alignment == 0 || Long.bitCount(alignment) != 1) throw new KernelFormatException("bzImage kernel_alignment " + alignment + " is not a power of two");
        long payloadOffset = Integer.toUnsignedLong(b.getInt(0x248));
        long payloadLength = Integer.toUnsignedLong(b.getInt(0x24C));
        if (payloadOffset + payloadLength > kernelSize) throw new KernelFormatException("bzImage payload lies outside the file");
        return new BzImage(version, loadflags, xloadflags, file[0x234] != 0, alignment, b.getLong(0x258),
                Integer.toUnsignedLong(b.getInt(0x260)), Integer.toUnsignedLong(b.getInt(0x22C)),
                Integer.toUnsignedLong(b.getInt(0x238)), kernelOffset, kernelSize, payloadOffset, payloadLength,
                Arrays.copyOfRange(file, HEADER_START, headerEnd));
    }

    /** The compressed kernel inside the protected-mode part (its first bytes name the compressor). */
    public byte[] payload(byte[] file) {
        int from = (int) (kernelOffset + payloadOffset);
        return Arrays.copyOfRange(file, from, (int) (from + payloadLength));
    }
}
