package io.actorvm.devices.record;

import io.actorvm.devices.proto.Item;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/** Readable forms of recorded items for divergence reports, and the checksum recordings use. */
final class Items {
    private Items() {}

    private static final int SHOWN_BYTES = 16;

    static String describe(Item.ItemCase kind) {
        return switch (kind) {
            case CLOCK_NANOS -> "a clock reading";
            case ENTROPY -> "entropy";
            case DISK_READ -> "a disk read";
            case ACCEPTED -> "a count of host input taken";
            case DISK_WRITE -> "a disk write";
            case DISK_FLUSH -> "a disk flush";
            case IRQ_LEVEL -> "an interrupt level";
            case IRQ_EDGE -> "an interrupt";
            case CONSOLE -> "console output";
            case CONTROL -> "a request to the VM";
            case VIRTIO_HOST -> "a request to the rings";
            case NET_SEND -> "a frame sent";
            case ITEM_NOT_SET -> "nothing";
        };
    }

    static String describe(Item item) {
        return switch (item.getItemCase()) {
            case CLOCK_NANOS -> "clock " + Instant.ofEpochSecond(0, item.getClockNanos());
            case ENTROPY -> "entropy " + item.getEntropy().size() + " bytes";
            case DISK_READ -> "disk read at " + item.getDiskRead().getOffset() + ", " + item.getDiskRead().getData().size() + " bytes"
                    + (item.getDiskRead().getError().isEmpty() ? "" : " (failed: " + item.getDiskRead().getError() + ")");
            case ACCEPTED -> "host input taken: " + item.getAccepted() + " bytes";
            case DISK_WRITE -> "disk write at " + item.getDiskWrite().getOffset() + ", " + item.getDiskWrite().getLength()
                    + " bytes, crc " + Integer.toHexString(item.getDiskWrite().getCrc());
            case DISK_FLUSH -> "disk flush";
            case IRQ_LEVEL -> "interrupt line " + (item.getIrqLevel() ? "high" : "low");
            case IRQ_EDGE -> "interrupt";
            case CONSOLE -> "console output " + bytes(item.getConsole().toByteArray());
            case CONTROL -> "request to the VM: " + item.getControl();
            case VIRTIO_HOST -> "request to the rings: " + item.getVirtioHost();
            case NET_SEND -> "frame of " + item.getNetSend().getLength() + " bytes, crc " + Integer.toHexString(item.getNetSend().getCrc());
            case ITEM_NOT_SET -> "nothing";
        };
    }

    /** Short printable form: text when it is text, hex otherwise. */
    static String bytes(byte[] b) {
        boolean text = true;
        for (byte x : b) if ((x < 0x20 && x != '\n' && x != '\r' && x != '\t') || x > 0x7e) text = false;
        if (text) {
            String s = new String(b, java.nio.charset.StandardCharsets.US_ASCII).replace("\n", "\\n").replace("\r", "\\r");
            return "\"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\"";
        }
        String hex = HexFormat.ofDelimiter(" ").formatHex(b, 0, Math.min(b.length, SHOWN_BYTES));
        return "[" + hex + (b.length > SHOWN_BYTES ? " … " + b.length + " bytes" : "") + "]";
    }

    /** CRC-32C of the buffer's remaining bytes; its position is left as it was. */
    static int crc(ByteBuffer data) {
        CRC32C crc = new CRC32C();
        crc.update(data.duplicate());
        return (int) crc.getValue();
    }

    static int crc(byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        return (int) crc.getValue();
    }
}
