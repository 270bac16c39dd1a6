package io.actorvm.boot.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Writes the 36-byte header every ACPI system description table starts with, and its checksum. */
final class AcpiTable {
    static final int HEADER_SIZE = 36;
    static final String OEM_ID = "ACTVM ", OEM_TABLE_ID = "ACTORVM ", CREATOR_ID = "AVMM";

    private AcpiTable() {}

    /** A buffer of {@code length} bytes with the header filled in; the checksum comes from {@link #seal}. */
    static ByteBuffer begin(String signature, int length, int revision) {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(ascii(signature, 4)).putInt(length).put((byte) revision).put((byte) 0)
                .put(ascii(OEM_ID, 6)).put(ascii(OEM_TABLE_ID, 8)).putInt(1).put(ascii(CREATOR_ID, 4)).putInt(1);
        return b;
    }

    /** Sets the checksum byte (offset 9) so that the whole table sums to zero; returns the bytes. */
    static byte[] seal(ByteBuffer b) {
        byte[] t = b.array();
        t[9] = 0;
        t[9] = checksum(t, 0, t.length);
        return t;
    }

    static byte checksum(byte[] data, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) sum += data[i];
        return (byte) -sum;
    }

    static byte[] ascii(String s, int length) {
        byte[] out = new byte[length];
        java.util.Arrays.fill(out, (byte) ' ');
        byte[] src = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(src, 0, out, 0, Math.min(length, src.length));
        return out;
    }

    /** A Generic Address Structure for one byte in I/O port space. */
    static void ioPortGas(ByteBuffer b, int offset, int port) {
        b.put(offset, (byte) 1)          // address space: system I/O
                .put(offset + 1, (byte) 8)   // register bit width
                .put(offset + 2, (byte) 0)   // bit offset
                .put(offset + 3, (byte) 1)   // access size: byte
                .putLong(offset + 4, port);
    }
}
