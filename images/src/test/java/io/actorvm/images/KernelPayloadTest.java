package io.actorvm.images;

import io.actorvm.boot.KernelFormatException;
import org.apache.commons.compress.compressors.lz4.BlockLZ4CompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.tukaani.xz.FilterOptions;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.X86Options;
import org.tukaani.xz.XZ;
import org.tukaani.xz.XZOutputStream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelPayloadTest {

    /**
     * Compressible but not trivial, like code: numbered lines with a few random bytes. (Purely
     * random bytes over a small alphabet make commons-compress's LZ4 compressor crawl.)
     */
    static byte[] sample(int size) {
        Random r = new Random(42);
        ByteArrayOutputStream out = new ByteArrayOutputStream(size + 64);
        for (int i = 0; out.size() < size; i++) {
            out.writeBytes(("kernel text line " + (i * 7919 % 1013) + " ").getBytes(StandardCharsets.US_ASCII));
            out.write(r.nextInt(256));
            out.write('\n');
        }
        return Arrays.copyOf(out.toByteArray(), size);
    }

    /** What the kernel build does after compressing: append the decompressed size, 4 bytes LE. */
    static byte[] withSizeAppended(byte[] stream, int size) {
        byte[] out = Arrays.copyOf(stream, stream.length + 4);
        ByteBuffer.wrap(out, stream.length, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(size);
        return out;
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(data);
        }
        return bytes.toByteArray();
    }

    /** As scripts/xz_wrap.sh: x86 BCJ filter, LZMA2, CRC32 check. */
    static byte[] xz(byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (XZOutputStream xz = new XZOutputStream(bytes, new FilterOptions[]{new X86Options(), new LZMA2Options()}, XZ.CHECK_CRC32)) {
            xz.write(data);
        }
        return bytes.toByteArray();
    }

    /**
     * As 'lz4 -l': the legacy magic, then [u32 LE size][raw LZ4 block] per block of input. 'lz4'
     * cuts blocks at 8 MiB; tests use smaller ones (commons-compress's LZ4 compressor is slow on
     * megabytes, and the decoder does not depend on the block size).
     */
    static byte[] lz4Legacy(byte[] data, int blockSize) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(le32(KernelPayload.LZ4_LEGACY_MAGIC));
        for (int off = 0; off < data.length; off += blockSize) {
            int len = Math.min(blockSize, data.length - off);
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            try (BlockLZ4CompressorOutputStream lz4 = new BlockLZ4CompressorOutputStream(block)) {
                lz4.write(data, off, len);
            }
            out.write(le32(block.size()));
            block.writeTo(out);
        }
        return out.toByteArray();
    }

    static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    @Test
    void gzipPayloadWithTrailingBytes() throws IOException {
        byte[] data = sample(300_000);
        byte[] payload = withSizeAppended(gzip(data), data.length);
        assertEquals(KernelPayload.Compression.GZIP, KernelPayload.detect(payload));
        assertArrayEquals(data, KernelPayload.decompress(payload));
    }

    @Test
    void xzPayloadWithBcjFilterAndAppendedSize() throws IOException {
        byte[] data = sample(300_000);
        byte[] payload = withSizeAppended(xz(data), data.length);
        assertEquals(KernelPayload.Compression.XZ, KernelPayload.detect(payload));
        assertArrayEquals(data, KernelPayload.decompress(payload));
    }

    static byte[] lz4Legacy(byte[] data) throws IOException {
        return lz4Legacy(data, 32 * 1024);
    }

    @Test
    void lz4LegacyPayloadOfSeveralBlocksWithAppendedSize() throws IOException {
        byte[] data = sample(150_000); // five blocks, the last one short
        byte[] payload = withSizeAppended(lz4Legacy(data), data.length);
        assertEquals(KernelPayload.Compression.LZ4_LEGACY, KernelPayload.detect(payload));
        assertArrayEquals(data, KernelPayload.decompress(payload));
    }

    @Test
    void lz4LegacyStreamsConcatenatedAreOneStream() throws IOException {
        byte[] a = sample(100_000);
        byte[] b = Arrays.copyOfRange(sample(200_000), 100_000, 200_000);
        byte[] first = lz4Legacy(a), second = lz4Legacy(b);
        byte[] payload = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, payload, first.length, second.length);
        byte[] expected = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, expected, a.length, b.length);
        assertArrayEquals(expected, KernelPayload.decompress(payload));
    }

    @Test
    void lz4LegacyMagicWithoutBlocksIsAnError() {
        var e = assertThrows(KernelFormatException.class, () -> KernelPayload.decompress(le32(KernelPayload.LZ4_LEGACY_MAGIC)));
        assertTrue(e.getMessage().contains("no lz4 blocks"), e.getMessage());
    }

    @Test
    void unknownMagicIsAOneLineErrorNamingTheBytes() {
        var e = assertThrows(KernelFormatException.class, () -> KernelPayload.decompress(new byte[]{1, 2, 3, 4, 5, 6, 7, 8}));
        assertEquals("unknown kernel payload compression (magic 01 02 03 04 05 06); supported: gzip, xz, lz4", e.getMessage());
    }

    @Test
    void knownButUnsupportedCompressorIsNamed() {
        var e = assertThrows(KernelFormatException.class, () -> KernelPayload.detect(new byte[]{0x28, (byte) 0xB5, 0x2F, (byte) 0xFD, 0, 0}));
        assertTrue(e.getMessage().startsWith("kernel payload is compressed with zstd (magic 28 b5 2f fd 00 00)"), e.getMessage());
    }

    @Test
    void corruptStreamIsAKernelFormatError() throws IOException {
        byte[] payload = gzip(sample(100_000));
        for (int i = 20; i < 200; i++) payload[i] ^= 0x55;
        var e = assertThrows(KernelFormatException.class, () -> KernelPayload.decompress(payload));
        assertTrue(e.getMessage().startsWith("kernel gzip payload is corrupt"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    // --- the whole bzImage ---

    /** A 64-bit ELF with one PT_LOAD and, if {@code pvhEntry != 0}, a Xen PHYS32_ENTRY note. */
    static byte[] elf(int pvhEntry) {
        int ehdr = 64, phdr = 56, noteOff = ehdr + 2 * phdr, noteSize = 20, loadOff = noteOff + noteSize;
        ByteBuffer b = ByteBuffer.allocate(loadOff + 64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[]{0x7F, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1).putLong(32, ehdr);
        b.putShort(52, (short) ehdr).putShort(54, (short) phdr).putShort(56, (short) 2);
        b.putInt(ehdr, 1).putLong(ehdr + 8, loadOff).putLong(ehdr + 24, 0x1000000).putLong(ehdr + 32, 64).putLong(ehdr + 40, 64);
        int p = ehdr + phdr;
        b.putInt(p, 4).putLong(p + 8, noteOff).putLong(p + 32, noteSize).putLong(p + 40, noteSize);
        b.putInt(noteOff, 4).putInt(noteOff + 4, 4).putInt(noteOff + 8, pvhEntry != 0 ? 18 : 17);
        b.put(noteOff + 12, new byte[]{'X', 'e', 'n', 0}).putInt(noteOff + 16, pvhEntry);
        return b.array();
    }

    /** A minimal bzImage (protocol 2.15, 64-bit entry) whose protected-mode part is {@code payload}. */
    static byte[] bzImage(byte[] payload) {
        int setupSects = 1, kernelOffset = (setupSects + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(kernelOffset + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1F1, (byte) setupSects);
        b.putInt(0x1F4, (payload.length + 15) / 16 - 1);
        b.putShort(0x1FE, (short) 0xAA55);
        b.put(0x200, (byte) 0xEB).put(0x201, (byte) 0x66); // jump over the header to 0x268
        b.putInt(0x202, 0x53726448).putShort(0x206, (short) 0x020F);
        b.put(0x211, (byte) 0x81);
        b.putInt(0x230, 0x200000).put(0x234, (byte) 1).putShort(0x236, (short) 3);
        b.putInt(0x248, 0).putInt(0x24C, payload.length);
        b.put(kernelOffset, payload);
        return b.array();
    }

    @Test
    void extractsVmlinuxAndItsPvhEntryFromABzImage() throws IOException {
        byte[] elf = elf(0x1000ab0);
        byte[] image = bzImage(withSizeAppended(lz4Legacy(elf), elf.length));
        KernelPayload.Vmlinux v = KernelPayload.extractVmlinux(image);
        assertEquals(KernelPayload.Compression.LZ4_LEGACY, v.compression());
        assertArrayEquals(elf, v.elf());
        assertEquals(0x1000ab0, v.pvhEntry());
    }

    @Test
    void vmlinuxWithoutPvhNoteIsRejected() throws IOException {
        byte[] image = bzImage(xz(elf(0)));
        var e = assertThrows(KernelFormatException.class, () -> KernelPayload.extractVmlinux(image));
        assertTrue(e.getMessage().contains("no PVH entry note"), e.getMessage());
    }

    @Test
    void payloadThatIsNotElfIsRejected() throws IOException {
        byte[] image = bzImage(gzip(sample(1000)));
        var e = assertThrows(KernelFormatException.class, () -> KernelPayload.extractVmlinux(image));
        assertTrue(e.getMessage().contains("is not an ELF file"), e.getMessage());
    }
}
