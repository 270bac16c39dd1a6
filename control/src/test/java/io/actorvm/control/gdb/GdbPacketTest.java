package io.actorvm.control.gdb;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The remote serial protocol's framing, checksums, escapes and register encoding. */
class GdbPacketTest {
    static GdbPacket.Incoming read(String wire, ByteArrayOutputStream acks) throws Exception {
        return GdbPacket.read(new ByteArrayInputStream(wire.getBytes(StandardCharsets.ISO_8859_1)), acks);
    }

    @Test
    void packetsAreCheckedAcknowledgedAndUnescaped() throws Exception {
        ByteArrayOutputStream acks = new ByteArrayOutputStream();
        assertEquals(new GdbPacket.Packet("g"), read("+$g#67", acks));
        assertEquals("+", acks.toString());
        acks.reset();
        // A bad checksum is asked for again; the good copy that follows is taken.
        assertEquals(new GdbPacket.Packet("?"), read("$?#00$?#3f", acks));
        assertEquals("-+", acks.toString());
        assertInstanceOf(GdbPacket.Interrupt.class, read("\u0003", acks));
        assertInstanceOf(GdbPacket.Closed.class, read("$m0,4#", acks));
        // 0x7d escapes: "}]" stands for '}' ^ 0x20 ^ 0x20... i.e. the byte after } is XORed with 0x20.
        String framed = new String(GdbPacket.frame("a$b#c}d*"), StandardCharsets.ISO_8859_1);
        assertTrue(framed.startsWith("$a}\u0004b}\u0003c}]d}\n#"), framed);
        assertEquals(new GdbPacket.Packet("a$b#c}d*"), read(framed, acks));
    }

    @Test
    void registersTravelLittleEndianInTheTargetDescriptionsOrder() {
        assertEquals("efbeadde", GdbPacket.littleEndian(0xdeadbeefL, 4));
        assertEquals(0xdeadbeefL, GdbPacket.parseLittleEndian("efbeadde"));
        assertTrue(GdbRegisters.TARGET_XML.contains("<architecture>i386:x86-64</architecture>"));
        assertTrue(GdbRegisters.TARGET_XML.contains("name=\"rip\" bitsize=\"64\" type=\"code_ptr\" group=\"general\" regnum=\"16\""));
        assertTrue(GdbRegisters.TARGET_XML.contains("name=\"efer\""));
        int bytes = GdbRegisters.ALL.stream().mapToInt(GdbRegisters.Register::bytes).sum();
        io.actorvm.kvm.Segment seg = new io.actorvm.kvm.Segment(0, 0xFFFFF, 0x10, 3, true, 0, false, true, true, true, false, false);
        io.actorvm.kvm.Sregs sregs = new io.actorvm.kvm.Sregs(seg, seg, seg, seg, seg, seg, seg, seg,
                new io.actorvm.kvm.DescriptorTable(0, 0), new io.actorvm.kvm.DescriptorTable(0, 0), 0x80000011L, 0, 0x1000, 0x20, 0, 0x500, 0,
                new long[4]);
        io.actorvm.kvm.Regs regs = new io.actorvm.kvm.Regs(1, 2, 3, 4, 5, 6, 0x7000, 0x8000, 9, 10, 11, 12, 13, 14, 15, 16, 0x100000, 0x202);
        String g = GdbRegisters.encode(regs, sregs, new byte[416]);
        assertEquals(bytes * 2, g.length());
        assertEquals("0080000000000000", GdbRegisters.one(g, 6), "rbp comes before rsp in gdb's order");
        assertEquals("0000100000000000", GdbRegisters.one(g, 16), "rip");
        assertEquals(0x7000, GdbRegisters.with(regs, 7, 0x7000).rsp());
        assertEquals(0x1234, GdbRegisters.with(regs, 6, 0x1234).rbp());
    }
}
