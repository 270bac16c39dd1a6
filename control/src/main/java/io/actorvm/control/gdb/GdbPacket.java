package io.actorvm.control.gdb;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * GDB's remote serial protocol on the wire: packets are {@code $payload#cs} with {@code cs} the
 * payload's byte sum modulo 256 in two hex digits, acknowledged with {@code +} (or {@code -} to
 * ask again); a lone 0x03 byte is an interrupt (Ctrl-C). Payload bytes {@code $ # } *} are
 * escaped as {@code 0x7d} followed by the byte XOR 0x20.
 */
final class GdbPacket {
    static final int INTERRUPT = 0x03;
    /** The largest packet we take or send (announced as PacketSize). */
    static final int MAX = 0x4000;
    static final HexFormat HEX = HexFormat.of();

    private GdbPacket() {
    }

    /** What the reader found next: a packet's payload, an interrupt, or the end of the connection. */
    sealed interface Incoming {}

    record Packet(String payload) implements Incoming {}

    record Interrupt() implements Incoming {}

    record Closed() implements Incoming {}

    /**
     * Reads until a whole packet (acknowledging it, or asking again when its checksum is wrong) or
     * an interrupt; acknowledgements from gdb are skipped.
     */
    static Incoming read(InputStream in, java.io.OutputStream ack) throws IOException {
        while (true) {
            int b = in.read();
            if (b < 0) return new Closed();
            if (b == INTERRUPT) return new Interrupt();
            if (b != '$') continue; // '+', '-' and noise between packets
            ByteArrayOutputStream payload = new ByteArrayOutputStream();
            int sum = 0;
            while (true) {
                b = in.read();
                if (b < 0) return new Closed();
                if (b == '#') break;
                if (payload.size() >= MAX) throw new IOException("gdb sent a packet over " + MAX + " bytes");
                sum += b;
                payload.write(b);
            }
            int c1 = in.read(), c2 = in.read();
            if (c1 < 0 || c2 < 0) return new Closed();
            int expected;
            try {
                expected = Integer.parseInt("" + (char) c1 + (char) c2, 16);
            } catch (NumberFormatException e) {
                expected = -1;
            }
            if (expected != (sum & 0xFF)) {
                ack.write('-');
                ack.flush();
                continue;
            }
            ack.write('+');
            ack.flush();
            return new Packet(unescape(payload.toByteArray()));
        }
    }

    /** {@code payload} framed, escaped and check-summed. */
    static byte[] frame(String payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length() + 4);
        out.write('$');
        int sum = 0;
        for (byte b : payload.getBytes(StandardCharsets.ISO_8859_1)) {
            if (b == '$' || b == '#' || b == '}' || b == '*') {
                out.write('}');
                sum += '}';
                b ^= 0x20;
            }
            out.write(b);
            sum += b & 0xFF;
        }
        out.write('#');
        out.writeBytes(String.format("%02x", sum & 0xFF).getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private static String unescape(byte[] raw) {
        StringBuilder s = new StringBuilder(raw.length);
        for (int i = 0; i < raw.length; i++) {
            int b = raw[i] & 0xFF;
            if (b == '}' && i + 1 < raw.length) b = (raw[++i] & 0xFF) ^ 0x20;
            s.append((char) b);
        }
        return s.toString();
    }

    /** {@code value}'s {@code bytes} low bytes, little-endian, in hex (how registers travel). */
    static String littleEndian(long value, int bytes) {
        StringBuilder s = new StringBuilder(bytes * 2);
        for (int i = 0; i < bytes; i++) s.append(String.format("%02x", (value >>> (8 * i)) & 0xFF));
        return s.toString();
    }

    /** The little-endian value of hex digits (at most 16). */
    static long parseLittleEndian(String hex) {
        byte[] b = HEX.parseHex(hex);
        long v = 0;
        for (int i = Math.min(b.length, 8) - 1; i >= 0; i--) v = (v << 8) | (b[i] & 0xFF);
        return v;
    }
}
