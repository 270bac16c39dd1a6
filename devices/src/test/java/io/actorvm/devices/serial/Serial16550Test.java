package io.actorvm.devices.serial;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Serial16550Test {
    // Register offsets and bits, spelled out here so the test does not depend on the model's constants.
    private static final int RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
            MSR = 6, SCR = 7;
    private static final int LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40;

    private final ByteArrayOutputStream tx = new ByteArrayOutputStream();
    private final List<Boolean> irq = new ArrayList<>();
    private Serial16550 uart;

    @BeforeEach
    void setUp() {
        uart = new Serial16550(tx::write, irq::add);
    }

    private int read(int offset) {
        return (int) uart.read(offset, 1);
    }

    private void write(int offset, int value) {
        uart.write(offset, 1, value);
    }

    @Test
    void thrWriteTransmitsTheByte() {
        write(THR, 'h');
        write(THR, 'i');
        write(THR, 0x1FF); // only the low byte is transmitted
        assertArrayEquals(new byte[] {'h', 'i', (byte) 0xFF}, tx.toByteArray());
        assertEquals(3L, uart.metrics().txBytes());
        assertEquals(List.of(), irq, "no interrupt without IER");
    }

    @Test
    void lsrReportsTransmitterEmptyAndDataReady() {
        assertEquals(LSR_THRE | LSR_TEMT, read(LSR));
        write(THR, 'x');
        assertEquals(LSR_THRE | LSR_TEMT, read(LSR), "transmission is instant");
        assertEquals(1, uart.receive(new byte[] {'a'}));
        assertEquals(LSR_THRE | LSR_TEMT | LSR_DR, read(LSR));
        assertEquals('a', read(RBR));
        assertEquals(LSR_THRE | LSR_TEMT, read(LSR));
    }

    @Test
    void receivedBytesComeOutInOrder() {
        assertEquals(5, uart.receive("hello".getBytes()));
        assertEquals(2, uart.receive(new byte[] {(byte) 0xFF, 0}));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 5; i++) sb.append((char) read(RBR));
        assertEquals("hello", sb.toString());
        assertEquals(0xFF, read(RBR), "bytes are unsigned");
        assertEquals(LSR_DR, read(LSR) & LSR_DR);
        assertEquals(0, read(RBR));
        assertEquals(0, read(LSR) & LSR_DR);
        assertEquals(0, read(RBR), "an empty RBR reads 0");
        assertEquals(7L, uart.metrics().rxBytes());
    }

    @Test
    void receiveBeyondCapacityCountsOverrunsAndSetsOe() {
        byte[] lots = new byte[Serial16550.RX_CAPACITY + 10];
        Arrays.fill(lots, (byte) 'z');
        lots[0] = 'a';
        assertEquals(Serial16550.RX_CAPACITY, uart.receive(lots));
        assertEquals(10L, uart.metrics().overruns());
        assertEquals(0, uart.receive(new byte[] {'q', 'r'}));
        assertEquals(12L, uart.metrics().overruns());
        assertEquals((long) Serial16550.RX_CAPACITY, uart.metrics().rxBytes());
        assertEquals(LSR_THRE | LSR_TEMT | LSR_DR | LSR_OE, read(LSR));
        assertEquals(LSR_THRE | LSR_TEMT | LSR_DR, read(LSR), "OE clears when LSR is read");
        assertEquals('a', read(RBR));
        assertEquals(1, uart.receive(new byte[] {'!'}), "room for one again");
        for (int i = 1; i < Serial16550.RX_CAPACITY; i++) assertEquals('z', read(RBR));
        assertEquals('!', read(RBR));
        assertEquals(0, read(LSR) & LSR_DR);
    }

    @Test
    void emptyReceiveAcceptsNothing() {
        assertEquals(0, uart.receive(new byte[0]));
        assertEquals(LSR_THRE | LSR_TEMT, read(LSR));
        assertEquals(List.of(), irq);
    }

    @Test
    void dlabSwitchesOffsetsZeroAndOneToTheDivisorLatch() {
        assertEquals(12, uart.state().divisor(), "9600 baud after reset");
        write(LCR, 0x83); // DLAB, 8N1
        assertEquals(0x0C, read(DLL));
        assertEquals(0x00, read(DLM));
        write(DLL, 0x01);
        write(DLM, 0x02);
        assertEquals(0x01, read(DLL));
        assertEquals(0x02, read(DLM));
        assertEquals(0x0201, uart.state().divisor());
        assertEquals(0, tx.size(), "divisor writes do not transmit");
        assertEquals(0, uart.state().ier(), "divisor writes do not touch IER");
        assertEquals(List.of(), irq);
        uart.receive(new byte[] {'k'});
        assertEquals(0x01, read(DLL), "with DLAB set RBR is not consumed");
        write(LCR, 0x03);
        assertEquals(0x03, read(LCR));
        assertEquals('k', read(RBR));
        write(THR, 'y');
        assertArrayEquals(new byte[] {'y'}, tx.toByteArray());
        assertEquals(0x0201, uart.state().divisor());
    }

    @Test
    void enablingThreInterruptRaisesItAndIirReadAcknowledgesIt() {
        assertEquals(0x01, read(IIR), "no interrupt pending");
        write(IER, 0x02);
        assertEquals(List.of(true), irq);
        assertEquals(0x02, read(IIR), "THR empty");
        assertEquals(List.of(true, false), irq, "IIR read acknowledges THRE");
        assertEquals(0x01, read(IIR));
        write(THR, 'a');
        assertEquals(List.of(true, false, true), irq, "THR empty again after a transmit");
        write(THR, 'b');
        assertEquals(List.of(true, false, true), irq, "level unchanged: no call");
        write(IER, 0x00);
        assertEquals(List.of(true, false, true, false), irq);
        assertEquals(2L, uart.metrics().interrupts());
    }

    @Test
    void rewritingThreEnableDoesNotRaiseAgain() {
        write(IER, 0x02);
        read(IIR);
        write(IER, 0x02);
        assertEquals(List.of(true, false), irq, "enable was already set");
        assertEquals(0x01, read(IIR));
    }

    @Test
    void receiveInterruptFollowsDataReadyAndOutranksThre() {
        write(IER, 0x03); // RX and THRE
        assertEquals(List.of(true), irq);
        uart.receive(new byte[] {'1', '2'});
        assertEquals(List.of(true), irq, "already high");
        assertEquals(0x04, read(IIR), "received data outranks THR empty");
        assertEquals('1', read(RBR));
        assertEquals(0x04, read(IIR));
        assertEquals('2', read(RBR));
        assertEquals(List.of(true), irq, "THRE is still pending");
        assertEquals(0x02, read(IIR));
        assertEquals(List.of(true, false), irq);
    }

    @Test
    void lineStatusInterruptOnOverrun() {
        write(IER, 0x04);
        assertEquals(List.of(), irq);
        uart.receive(new byte[Serial16550.RX_CAPACITY + 1]);
        assertEquals(List.of(true), irq);
        assertEquals(0x06, read(IIR));
        assertEquals(LSR_OE, read(LSR) & LSR_OE);
        assertEquals(List.of(true, false), irq, "reading LSR clears the error and the interrupt");
        assertEquals(0x01, read(IIR));
    }

    @Test
    void fifoBitsInIirAfterFcrEnable() {
        assertEquals(0x01, read(IIR));
        write(FCR, 0x07); // enable, clear RX and TX FIFOs
        assertEquals(0xC1, read(IIR));
        write(IER, 0x02);
        assertEquals(0xC2, read(IIR));
        assertEquals(0xC1, read(IIR));
        write(FCR, 0x00);
        assertEquals(0x01, read(IIR));
    }

    @Test
    void fcrClearsTheReceiveFifo() {
        uart.receive("abc".getBytes());
        write(FCR, 0x01);
        assertEquals(LSR_DR, read(LSR) & LSR_DR, "enable alone keeps data");
        write(FCR, 0x03);
        assertEquals(0, read(LSR) & LSR_DR);
        assertEquals(0, read(RBR));
    }

    @Test
    void scratchRegisterHoldsAByte() {
        assertEquals(0, read(SCR));
        write(SCR, 0xA5);
        assertEquals(0xA5, read(SCR));
        write(SCR, 0x15A);
        assertEquals(0x5A, read(SCR));
    }

    @Test
    void msrReportsATerminalAttachedOutsideLoopback() {
        assertEquals(0xB0, read(MSR)); // DCD, DSR, CTS
    }

    @Test
    void loopbackWiresModemControlToStatusAndThrToRbr() {
        write(MCR, 0x1A); // loop, OUT2, RTS
        assertEquals(0x1A, read(MCR));
        assertEquals(0x90, read(MSR) & 0xF0, "RTS->CTS, OUT2->DCD");
        write(MCR, 0x1F);
        assertEquals(0xF0, read(MSR) & 0xF0);
        write(MCR, 0x10);
        assertEquals(0x00, read(MSR) & 0xF0);
        write(MCR, 0x1A);
        write(THR, 0x55);
        assertEquals(0, tx.size(), "loopback does not transmit");
        assertEquals(LSR_DR, read(LSR) & LSR_DR);
        assertEquals(0x55, read(RBR));
        assertEquals(0, read(LSR) & LSR_DR);
        write(MCR, 0x0B);
        assertEquals(0x0B, read(MCR));
        assertEquals(0xB0, read(MSR));
        write(THR, 0x56);
        assertArrayEquals(new byte[] {0x56}, tx.toByteArray());
    }

    @Test
    void mcrKeepsOnlyItsFiveBits() {
        write(MCR, 0xFF);
        assertEquals(0x1F, read(MCR));
    }

    @Test
    void readOnlyRegistersIgnoreWrites() {
        write(LSR, 0x00);
        write(MSR, 0x00);
        assertEquals(LSR_THRE | LSR_TEMT, read(LSR));
        assertEquals(0xB0, read(MSR));
    }

    @Test
    void ierKeepsOnlyTheLowNibble() {
        write(IER, 0xFF);
        assertEquals(0x0F, read(IER));
    }

    @Test
    void unknownOffsetsReadAllOnesAndIgnoreWrites() {
        assertEquals(0xFF, uart.read(8, 1));
        assertEquals(0xFF, uart.read(-1, 1));
        uart.write(9, 1, 0x41);
        uart.write(-1, 1, 0x41);
        assertEquals(0, tx.size());
        assertEquals(List.of(), irq);
    }

    @Test
    void interruptLineOnlyToggledOnLevelChange() {
        write(IER, 0x01);
        assertEquals(List.of(), irq);
        uart.receive(new byte[] {1});
        uart.receive(new byte[] {2});
        read(LSR);
        read(IIR);
        assertEquals(List.of(true), irq);
        read(RBR);
        assertEquals(List.of(true), irq, "still one byte left");
        read(RBR);
        assertEquals(List.of(true, false), irq);
        read(RBR);
        read(IIR);
        write(SCR, 1);
        assertEquals(List.of(true, false), irq);
        uart.receive(new byte[] {3});
        assertEquals(List.of(true, false, true), irq);
        assertEquals(2L, uart.metrics().interrupts());
    }

    @Test
    void stateSnapshotsRegistersAndPendingInput() {
        write(LCR, 0x80);
        write(DLL, 0x03);
        write(LCR, 0x03);
        write(IER, 0x05);
        write(MCR, 0x0B);
        write(SCR, 0x42);
        write(FCR, 0x01);
        uart.receive(new byte[] {7, 8, 9});
        Serial16550.State s = uart.state();
        assertEquals(0x05, s.ier());
        assertEquals(0x03, s.lcr());
        assertEquals(0x0B, s.mcr());
        assertEquals(0x42, s.scr());
        assertEquals(3, s.divisor());
        assertTrue(s.fifoEnabled());
        assertFalse(s.thrInterrupt());
        assertArrayEquals(new byte[] {7, 8, 9}, s.rx());
        assertEquals(7, read(RBR), "state() does not consume input");
        assertEquals("serial", uart.name());
    }
}
