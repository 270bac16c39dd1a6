package io.actorvm.boot.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The few AML (ACPI Machine Language) constructs our DSDT needs, encoded by hand: names with
 * integer, string and buffer values, packages, devices and scopes. Encodings from the ACPI 6.5
 * specification, chapter 20.
 */
final class Aml {
    static final int ZERO = 0x00, ONE = 0x01, NAME_OP = 0x08, BYTE_PREFIX = 0x0A, DWORD_PREFIX = 0x0C, STRING_PREFIX = 0x0D,
            SCOPE_OP = 0x10, BUFFER_OP = 0x11, PACKAGE_OP = 0x12, EXT_OP = 0x5B, DEVICE_OP = 0x82, ROOT = 0x5C;

    private Aml() {}

    static byte[] name(String seg, byte[] value) {
        return concat(new byte[] {(byte) NAME_OP}, nameSeg(seg), value);
    }

    static byte[] integer(long v) {
        if (v == 0) return new byte[] {ZERO};
        if (v == 1) return new byte[] {ONE};
        if (v <= 0xFF) return new byte[] {BYTE_PREFIX, (byte) v};
        return new byte[] {DWORD_PREFIX, (byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)};
    }

    static byte[] string(String s) {
        return concat(new byte[] {(byte) STRING_PREFIX}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    static byte[] buffer(byte[] data) {
        byte[] body = concat(integer(data.length), data);
        return concat(new byte[] {BUFFER_OP}, pkgLength(body.length), body);
    }

    static byte[] packageOf(byte[]... elements) {
        byte[] body = concat(new byte[] {(byte) elements.length}, concat(elements));
        return concat(new byte[] {(byte) PACKAGE_OP}, pkgLength(body.length), body);
    }

    static byte[] device(String seg, byte[]... terms) {
        byte[] body = concat(nameSeg(seg), concat(terms));
        return concat(new byte[] {(byte) EXT_OP, (byte) DEVICE_OP}, pkgLength(body.length), body);
    }

    /** {@code Scope(\NAME) { terms }}. */
    static byte[] rootScope(String seg, byte[]... terms) {
        byte[] body = concat(new byte[] {(byte) ROOT}, nameSeg(seg), concat(terms));
        return concat(new byte[] {(byte) SCOPE_OP}, pkgLength(body.length), body);
    }

    /** A resource template: Memory32Fixed(ReadWrite, base, length) and an edge, active-high, exclusive Interrupt(gsi). */
    static byte[] mmioAndInterrupt(long base, long length, int gsi) {
        byte[] memory = {(byte) 0x86, 0x09, 0x00, 0x01, (byte) base, (byte) (base >> 8), (byte) (base >> 16), (byte) (base >> 24),
                (byte) length, (byte) (length >> 8), (byte) (length >> 16), (byte) (length >> 24)};
        // Extended interrupt descriptor: flags bit 0 consumer, bit 1 edge-triggered; one interrupt.
        byte[] interrupt = {(byte) 0x89, 0x06, 0x00, 0x03, 0x01, (byte) gsi, (byte) (gsi >> 8), (byte) (gsi >> 16), (byte) (gsi >> 24)};
        byte[] end = {0x79, 0x00}; // end tag; checksum 0 means "not checked"
        return concat(memory, interrupt, end);
    }

    /**
     * A resource template of fixed 16-bit I/O ranges and one ISA interrupt: an I/O port descriptor
     * (decodes 16 bits) per {@code ports} pair of base and length, then IRQNoFlags(irq), which
     * means edge-triggered, active-high, exclusive: how ISA devices signal.
     */
    static byte[] ioAndIsaIrq(int irq, int... ports) {
        if (irq < 0 || irq > 15) throw new IllegalArgumentException("not an ISA IRQ: " + irq);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i + 1 < ports.length; i += 2) {
            int base = ports[i], length = ports[i + 1];
            out.writeBytes(new byte[] {0x47, 0x01, (byte) base, (byte) (base >> 8), (byte) base, (byte) (base >> 8), 0x01, (byte) length});
        }
        out.writeBytes(new byte[] {0x22, (byte) (1 << irq), (byte) ((1 << irq) >> 8)});
        out.writeBytes(new byte[] {0x79, 0x00});
        return out.toByteArray();
    }

    /** {@code Name(_HID, EisaId("PNP0501"))}: a compressed EISA id, as Linux's PNP layer matches it. */
    static byte[] eisaId(String id) {
        if (!id.matches("[A-Z]{3}[0-9A-F]{4}")) throw new IllegalArgumentException("not an EISA id: " + id);
        int v = ((id.charAt(0) - 0x40) << 26) | ((id.charAt(1) - 0x40) << 21) | ((id.charAt(2) - 0x40) << 16)
                | Integer.parseInt(id.substring(3), 16);
        // Stored big-endian as a DWord integer.
        return integer(Integer.reverseBytes(v) & 0xFFFFFFFFL);
    }

    static byte[] nameSeg(String seg) {
        if (seg.length() != 4) throw new IllegalArgumentException("AML name segments are 4 characters: " + seg);
        return seg.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * PkgLength for a body of {@code bodyLength} bytes: the encoded length counts itself. One byte
     * up to 63, otherwise a lead byte with the count of following bytes in bits 6-7.
     */
    static byte[] pkgLength(int bodyLength) {
        if (bodyLength + 1 <= 0x3F) return new byte[] {(byte) (bodyLength + 1)};
        if (bodyLength + 2 <= 0xFFF) {
            int n = bodyLength + 2;
            return new byte[] {(byte) (0x40 | (n & 0xF)), (byte) (n >> 4)};
        }
        int n = bodyLength + 3;
        if (n > 0xFFFFF) throw new IllegalArgumentException("AML package too large: " + bodyLength);
        return new byte[] {(byte) (0x80 | (n & 0xF)), (byte) (n >> 4), (byte) (n >> 12)};
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }
}
