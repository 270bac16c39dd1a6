package io.actorvm.images;

import io.actorvm.boot.BzImage;
import io.actorvm.boot.ElfKernel;
import io.actorvm.boot.KernelFormatException;
import org.apache.commons.compress.compressors.lz4.BlockLZ4CompressorInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;

/**
 * The compressed kernel inside a bzImage, and the ELF {@code vmlinux} in it. A bzImage boots
 * through its own decompressor, which we would have to emulate; the ELF inside boots directly
 * through its PVH note, which is what our loader does. Pure functions of the bytes given.
 *
 * <p>Formats are those the kernel build writes ({@code scripts/Makefile.lib}): gzip; XZ with the
 * x86 BCJ filter and CRC32 check; LZ4 in the legacy frame format ({@code lz4 -l}). The XZ and LZ4
 * payloads have the decompressed size appended as 4 bytes little-endian, which is not part of
 * either stream and must be ignored.
 */
public final class KernelPayload {

    public enum Compression {
        GZIP("gzip"), XZ("xz"), LZ4_LEGACY("lz4");

        private final String label;

        Compression(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** The ELF kernel taken out of a bzImage, with its PVH entry point (already checked). */
    public record Vmlinux(Compression compression, int payloadLength, byte[] elf, long pvhEntry) {}

    static final int LZ4_LEGACY_MAGIC = 0x184C2102;
    /** Legacy LZ4 blocks decompress to at most 8 MiB each (the format's fixed block size). */
    static final int LZ4_LEGACY_BLOCK = 8 << 20;
    /** LZ4_compressBound(8 MiB): a size field larger than this cannot start a block. */
    static final int LZ4_LEGACY_MAX_COMPRESSED = LZ4_LEGACY_BLOCK + LZ4_LEGACY_BLOCK / 255 + 16;
    /** Far beyond any real vmlinux (~60-70 MB for Debian's); stops a corrupt stream from filling the heap. */
    static final long MAX_DECOMPRESSED = 1L << 30;

    private static final byte[] XZ_MAGIC = {(byte) 0xFD, '7', 'z', 'X', 'Z', 0};
    private static final byte[] GZIP_MAGIC = {0x1F, (byte) 0x8B};

    private KernelPayload() {}

    /** Extracts and checks the ELF kernel of a bzImage file. */
    public static Vmlinux extractVmlinux(byte[] bzImageFile) {
        BzImage image = BzImage.parse(bzImageFile);
        byte[] payload = image.payload(bzImageFile);
        Compression compression = detect(payload);
        byte[] elf = decompress(payload);
        if (!ElfKernel.looksLikeElf(elf)) {
            throw new KernelFormatException("the bzImage's " + compression.label() + " payload is not an ELF file (starts with "
                    + hex(elf, 4) + ")");
        }
        ElfKernel kernel;
        try {
            kernel = ElfKernel.parse(elf);
        } catch (KernelFormatException e) {
            // Debian's 6.1 kernels carry the note (CONFIG_PVH); a kernel without it cannot boot under actorvm.
            throw new KernelFormatException("vmlinux extracted from the bzImage is not bootable by actorvm: " + e.getMessage());
        }
        return new Vmlinux(compression, payload.length, elf, kernel.pvhEntry());
    }

    public static Compression detect(byte[] payload) {
        if (startsWith(payload, XZ_MAGIC)) return Compression.XZ;
        if (startsWith(payload, GZIP_MAGIC)) return Compression.GZIP;
        if (payload.length >= 4 && le32(payload, 0) == LZ4_LEGACY_MAGIC) return Compression.LZ4_LEGACY;
        String known = knownButUnsupported(payload);
        throw new KernelFormatException((known != null ? "kernel payload is compressed with " + known
                : "unknown kernel payload compression") + " (magic " + hex(payload, 6) + "); supported: gzip, xz, lz4");
    }

    /** Decompresses a kernel payload; trailing bytes after the stream (the appended size) are ignored. */
    public static byte[] decompress(byte[] payload) {
        Compression compression = detect(payload);
        BoundedOutput out = new BoundedOutput(sizeHint(payload));
        try {
            switch (compression) {
                case GZIP -> {
                    // GZIPInputStream stops at the end of the last member and ignores what follows.
                    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(payload), 1 << 16)) {
                        in.transferTo(out);
                    }
                }
                case XZ -> {
                    // One stream only (not "concatenated"), so the size appended after it is never read.
                    try (InputStream in = new XZCompressorInputStream(new ByteArrayInputStream(payload), false)) {
                        in.transferTo(out);
                    }
                }
                case LZ4_LEGACY -> lz4Legacy(payload, out);
            }
        } catch (IOException e) {
            throw new KernelFormatException("kernel " + compression.label() + " payload is corrupt: " + oneLine(e));
        }
        return out.toByteArray();
    }

    /**
     * LZ4 legacy frame: the magic, then blocks of [u32 LE compressed size][raw LZ4 block]. There is
     * no end marker: the stream ends at the end of the data, or where the next size field cannot
     * be a block (zero, larger than a block can be, or larger than what is left), which is where
     * the kernel build's appended 4-byte size sits. The magic in a size field starts another
     * legacy frame (concatenated {@code lz4 -l} output); like the kernel's own unlz4 we skip it.
     */
    private static void lz4Legacy(byte[] payload, OutputStream out) throws IOException {
        int pos = 4;
        int blocks = 0;
        while (payload.length - pos >= 4) {
            long size = Integer.toUnsignedLong(le32(payload, pos));
            if (size == LZ4_LEGACY_MAGIC) {
                pos += 4;
                continue;
            }
            if (size == 0 || size > LZ4_LEGACY_MAX_COMPRESSED || size > payload.length - pos - 4) break;
            int start = pos + 4;
            BoundedOutput block = new BoundedOutput(LZ4_LEGACY_BLOCK);
            try (InputStream in = new BlockLZ4CompressorInputStream(new ByteArrayInputStream(payload, start, (int) size))) {
                in.transferTo(block);
            } catch (IOException | RuntimeException e) {
                throw new IOException("lz4 block at offset " + pos + ": " + oneLine(e), e);
            }
            if (block.size() > LZ4_LEGACY_BLOCK) {
                throw new IOException("lz4 block at offset " + pos + " decompresses to " + block.size() + " bytes (legacy blocks hold at most 8 MiB)");
            }
            block.writeTo(out);
            blocks++;
            pos = start + (int) size;
        }
        if (blocks == 0) throw new IOException("no lz4 blocks after the legacy magic");
    }

    /** The appended decompressed size, when it is plausible, to size the output buffer once. */
    private static int sizeHint(byte[] payload) {
        if (payload.length < 8) return 1 << 20;
        long appended = Integer.toUnsignedLong(le32(payload, payload.length - 4));
        return appended >= payload.length && appended <= (256L << 20) ? (int) appended : Math.max(1 << 20, payload.length * 4);
    }

    private static String knownButUnsupported(byte[] p) {
        if (startsWith(p, new byte[]{'B', 'Z', 'h'})) return "bzip2";
        if (startsWith(p, new byte[]{0x28, (byte) 0xB5, 0x2F, (byte) 0xFD})) return "zstd";
        if (startsWith(p, new byte[]{(byte) 0x89, 'L', 'Z', 'O'})) return "lzo";
        if (startsWith(p, new byte[]{0x5D, 0, 0})) return "lzma";
        return null;
    }

    private static boolean startsWith(byte[] data, byte[] prefix) {
        if (data.length < prefix.length) return false;
        for (int i = 0; i < prefix.length; i++) if (data[i] != prefix[i]) return false;
        return true;
    }

    private static int le32(byte[] data, int offset) {
        return ByteBuffer.wrap(data, offset, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    static String hex(byte[] data, int max) {
        int n = Math.min(max, data.length);
        if (n == 0) return "(empty)";
        return HexFormat.ofDelimiter(" ").formatHex(data, 0, n);
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return m.replaceAll("\\s+", " ").strip();
    }

    /** A byte sink that refuses to grow past {@link #MAX_DECOMPRESSED}. */
    private static final class BoundedOutput extends ByteArrayOutputStream {
        BoundedOutput(int initial) {
            super(initial);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            check(len);
            super.write(b, off, len);
        }

        @Override
        public synchronized void write(int b) {
            check(1);
            super.write(b);
        }

        private void check(int more) {
            if ((long) count + more > MAX_DECOMPRESSED) {
                throw new KernelFormatException("kernel payload decompresses to more than " + (MAX_DECOMPRESSED >> 20) + " MiB");
            }
        }
    }
}
