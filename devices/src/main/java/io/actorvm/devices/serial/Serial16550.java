package io.actorvm.devices.serial;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.InterruptLine;

import java.util.ArrayDeque;

/**
 * A 16550A UART: eight registers at offsets 0-7 of its port range (COM1: 0x3F8, IRQ 4).
 * Transmission is instant (THR is always empty again right after a write), received bytes wait in
 * a bounded FIFO. Interrupts follow the 16550A priority order and drive {@link InterruptLine}
 * only when the line's level changes. Enough of the chip for Linux's 8250 driver to detect a
 * 16550A (scratch register, FIFO bits in IIR, loopback MSR test).
 */
public final class Serial16550 implements BusDevice, io.actorvm.devices.HostInput, io.actorvm.devices.Stateful<Serial16550.State> {
    public static final int COM1_PORT = 0x3F8, COM1_IRQ = 4, PORT_COUNT = 8;
    /** Received bytes the host may queue ahead of the guest before they count as overruns. */
    public static final int RX_CAPACITY = 4096;

    static final int RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
    static final int IER_RX = 0x01, IER_THRE = 0x02, IER_LSR = 0x04, IER_MSR = 0x08;
    static final int IIR_NONE = 0x01, IIR_LSR = 0x06, IIR_RX = 0x04, IIR_THRE = 0x02, IIR_FIFO = 0xC0;
    static final int FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02;
    static final int LCR_DLAB = 0x80;
    static final int MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
    static final int LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40;
    static final int MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;

    /** Register state for snapshots; pending input is part of it. */
    public record State(int ier, int lcr, int mcr, int lsrErrors, int scr, int divisor, boolean fifoEnabled,
                        boolean thrInterrupt, byte[] rx) {}

    public record Metrics(long txBytes, long rxBytes, long overruns, long interrupts) implements DeviceMetrics {}

    public static final Serial16550Codec CODEC = new Serial16550Codec();

    private final SerialOutput output;
    private final InterruptLine irq;
    private final ArrayDeque<Byte> rx = new ArrayDeque<>();
    private int ier, lcr, mcr, scr;
    private int lsrErrors;
    private int divisor = 12; // 9600 baud at 1.8432 MHz, the PC reset value
    private boolean fifoEnabled;
    private boolean thrInterrupt; // THR-empty interrupt pending (cleared by IIR read or THR write)
    private boolean irqLevel;
    private long txBytes, rxBytes, overruns, interrupts;

    public Serial16550(SerialOutput output, InterruptLine irq) {
        this.output = output;
        this.irq = irq;
    }

    @Override
    public String name() {
        return "serial";
    }

    /** Host input: bytes for the guest to read. Returns how many fit; the rest count as overruns. */
    @Override
    public int receive(byte[] data) {
        int accepted = 0;
        for (byte b : data) {
            if (rx.size() >= RX_CAPACITY) {
                overruns++;
                lsrErrors |= LSR_OE;
                continue;
            }
            rx.add(b);
            accepted++;
        }
        rxBytes += accepted;
        updateIrq();
        return accepted;
    }

    @Override
    public long read(long offset, int size) {
        if (offset < 0 || offset >= PORT_COUNT) return 0xFF;
        int value = switch ((int) offset) {
            case RBR_THR -> {
                if ((lcr & LCR_DLAB) != 0) yield divisor & 0xFF;
                Byte b = rx.poll();
                yield b == null ? 0 : b & 0xFF;
            }
            case IER -> (lcr & LCR_DLAB) != 0 ? (divisor >> 8) & 0xFF : ier;
            case IIR_FCR -> {
                int iir = pendingInterrupt();
                if (iir == IIR_THRE) thrInterrupt = false; // reading IIR acknowledges THR empty
                yield iir | (fifoEnabled ? IIR_FIFO : 0);
            }
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> {
                int lsr = LSR_THRE | LSR_TEMT | lsrErrors | (rx.isEmpty() ? 0 : LSR_DR);
                lsrErrors = 0; // error bits clear on read
                yield lsr;
            }
            case MSR -> modemStatus();
            case SCR -> scr;
            default -> 0xFF;
        };
        updateIrq();
        return value;
    }

    @Override
    public void write(long offset, int size, long raw) {
        if (offset < 0 || offset >= PORT_COUNT) return;
        int v = (int) (raw & 0xFF);
        switch ((int) offset) {
            case RBR_THR -> {
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0xFF00) | v;
                } else if ((mcr & MCR_LOOP) != 0) {
                    receive(new byte[] {(byte) v}); // loopback: what we send we receive
                    thrInterrupt = true;
                } else {
                    txBytes++;
                    output.transmit((byte) v);
                    thrInterrupt = true; // transmission is instant: THR is empty again
                }
            }
            case IER -> {
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0xFF) | (v << 8);
                } else {
                    // Enabling the THR-empty interrupt while THR is empty raises it at once (drivers rely on it).
                    if ((v & IER_THRE) != 0 && (ier & IER_THRE) == 0) thrInterrupt = true;
                    ier = v & 0x0F;
                }
            }
            case IIR_FCR -> {
                fifoEnabled = (v & FCR_ENABLE) != 0;
                if ((v & FCR_CLEAR_RX) != 0) rx.clear();
            }
            case LCR -> lcr = v;
            case MCR -> mcr = v & 0x1F;
            case SCR -> scr = v;
            default -> { } // LSR and MSR are read-only
        }
        updateIrq();
    }

    private int modemStatus() {
        if ((mcr & MCR_LOOP) != 0) {
            // Loopback wires the modem-control outputs to the status inputs; Linux's probe checks this.
            return ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0) | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                    | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0) | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
        }
        return MSR_DCD | MSR_DSR | MSR_CTS; // a terminal is always attached and ready
    }

    /** The highest-priority enabled pending interrupt as IIR bits 0-3, or IIR_NONE. */
    private int pendingInterrupt() {
        if ((ier & IER_LSR) != 0 && lsrErrors != 0) return IIR_LSR;
        if ((ier & IER_RX) != 0 && !rx.isEmpty()) return IIR_RX;
        if ((ier & IER_THRE) != 0 && thrInterrupt) return IIR_THRE;
        return IIR_NONE;
    }

    private void updateIrq() {
        boolean level = pendingInterrupt() != IIR_NONE;
        if (level != irqLevel) {
            irqLevel = level;
            if (level) interrupts++;
            irq.set(level);
        }
    }

    @Override
    public void restore(State s) {
        ier = s.ier() & 0x0F;
        lcr = s.lcr() & 0xFF;
        mcr = s.mcr() & 0x1F;
        lsrErrors = s.lsrErrors() & LSR_OE;
        scr = s.scr() & 0xFF;
        divisor = s.divisor() & 0xFFFF;
        fifoEnabled = s.fifoEnabled();
        thrInterrupt = s.thrInterrupt();
        rx.clear();
        for (int i = 0; i < Math.min(s.rx().length, RX_CAPACITY); i++) rx.add(s.rx()[i]);
        irqLevel = pendingInterrupt() != IIR_NONE; // the irqchip restored its own view of the line
    }

    @Override
    public State state() {
        byte[] pending = new byte[rx.size()];
        int i = 0;
        for (Byte b : rx) pending[i++] = b;
        return new State(ier, lcr, mcr, lsrErrors, scr, divisor, fifoEnabled, thrInterrupt, pending);
    }

    @Override
    public void flush() {
        output.flush();
    }

    @Override
    public Metrics metrics() {
        return new Metrics(txBytes, rxBytes, overruns, interrupts);
    }

    @Override
    public Serial16550Codec codec() {
        return CODEC;
    }
}
