package io.actorvm.devices.i8042;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.HostInput;
import io.actorvm.devices.InterruptLine;
import io.actorvm.devices.VmControl;

import java.util.ArrayDeque;
import java.util.List;

/**
 * The PS/2 controller with a keyboard on its first port and no mouse. The controller answers the
 * commands Linux's i8042 driver probes with (configuration byte, self tests, port enable/disable;
 * the mouse port's test fails as on a machine without one) and command 0xFE (pulse the reset
 * line), which Linux uses for {@code reboot=k}. The keyboard answers the commands Linux's atkbd
 * driver sends (reset, identify, LEDs, typematic rate, enable/disable scanning) and sends the key
 * presses the host gives it ({@link #receive}: scan code set 2 bytes, as a keyboard puts them on
 * the wire), which the controller translates to set 1 while the configuration byte says so, as
 * a real 8042 does. IRQ 1 is raised while a byte waits in the output buffer and the keyboard
 * interrupt is enabled. Occupies ports 0x60 (data) and 0x64 (status/command) through a range of 5
 * ports starting at 0x60.
 */
public final class I8042 implements BusDevice, HostInput, io.actorvm.devices.Stateful<I8042.State> {
    public static final int BASE_PORT = 0x60, PORT_COUNT = 5, IRQ = 1;
    static final int DATA = 0, COMMAND = 4;
    static final int CMD_READ_CONFIG = 0x20, CMD_WRITE_CONFIG = 0x60, CMD_RESET = 0xFE;
    static final int CMD_DISABLE_AUX = 0xA7, CMD_ENABLE_AUX = 0xA8, CMD_DISABLE_KBD = 0xAD, CMD_ENABLE_KBD = 0xAE;
    /** Writes the next data byte to the output buffer as if the keyboard had sent it. */
    static final int CMD_WRITE_KBD_OUTPUT = 0xD2;
    /** Self tests: the controller answers 0x55 when healthy, a port test 0x00 when the port works. */
    static final int CMD_SELF_TEST = 0xAA, CMD_KBD_TEST = 0xAB, CMD_AUX_TEST = 0xA9;
    static final int SELF_TEST_PASSED = 0x55, PORT_TEST_PASSED = 0x00, AUX_ABSENT = 0x02;
    /** Status bit 2: system flag (POST passed); bit 4: keyboard not inhibited (no keylock); bit 0 output full. */
    static final int STATUS_SYSTEM = 0x04, STATUS_UNLOCKED = 0x10, STATUS_OUTPUT_FULL = 0x01;
    /** Configuration byte bits: keyboard interrupt, keyboard port disabled, mouse port disabled, translation. */
    static final int CONFIG_KBD_INT = 0x01, CONFIG_KBD_DISABLED = 0x10, CONFIG_AUX_DISABLED = 0x20, CONFIG_TRANSLATE = 0x40;

    /** Keyboard commands (bytes written to the data port with no controller command waiting). */
    static final int KBD_SET_LEDS = 0xED, KBD_ECHO = 0xEE, KBD_SCANCODE_SET = 0xF0, KBD_IDENTIFY = 0xF2, KBD_TYPEMATIC = 0xF3,
            KBD_ENABLE = 0xF4, KBD_DISABLE = 0xF5, KBD_DEFAULTS = 0xF6, KBD_RESEND = 0xFE, KBD_RESET = 0xFF;
    /** Keyboard answers: acknowledge, self test passed, "resend" (the command was not understood). */
    static final int KBD_ACK = 0xFA, KBD_BAT_OK = 0xAA, KBD_NAK = 0xFE;
    /** An MF2 keyboard's identity; with translation on the controller turns its 0x83 into 0x41. */
    static final int KBD_ID_0 = 0xAB, KBD_ID_1 = 0x83, KBD_ID_1_TRANSLATED = 0x41;

    /** Bytes the output buffer holds at most (a keyboard's own buffer is about this size). */
    static final int OUTPUT_CAPACITY = 16;

    /** The host's Ctrl+Alt+Del: three presses then three releases, in scan code set 2. */
    public static final byte[] CTRL_ALT_DEL = ScanCode.sequence(
            List.of(ScanCode.LEFT_CTRL, ScanCode.LEFT_ALT, ScanCode.DELETE), List.of(ScanCode.DELETE, ScanCode.LEFT_ALT, ScanCode.LEFT_CTRL));

    /**
     * {@code output} holds the bytes waiting for the guest, the first one in the output buffer;
     * {@code keyboardCommand} is a keyboard command waiting for its parameter byte, or -1.
     */
    public record State(int config, int pendingCommand, List<Integer> output, long resets, int keyboardCommand, boolean scanning,
                        long keysDropped) {
        public State {
            output = List.copyOf(output);
        }
    }

    public record Metrics(long resetRequests, long keysDropped) implements DeviceMetrics {}

    public static final I8042Codec CODEC = new I8042Codec();

    private final VmControl vm;
    private final InterruptLine irq;
    private int config = CONFIG_TRANSLATE | 0x04; // translation on, system flag
    private int pendingCommand = -1;
    private final ArrayDeque<Integer> output = new ArrayDeque<>();
    private long resets;
    private int keyboardCommand = -1;
    private boolean scanning = true;
    private long keysDropped;
    /** Set-2 break prefix (0xF0) seen while translating: the next byte is a release. */
    private boolean translatingBreak;
    private boolean irqLevel;

    public I8042(VmControl vm, InterruptLine irq) {
        this.vm = vm;
        this.irq = irq;
    }

    @Override
    public String name() {
        return "i8042";
    }

    @Override
    public long read(long offset, int size) {
        if (offset == COMMAND) return STATUS_SYSTEM | STATUS_UNLOCKED | (output.isEmpty() ? 0 : STATUS_OUTPUT_FULL);
        if (offset == DATA) {
            Integer b = output.poll();
            if (b == null) return 0; // an empty buffer reads its last value on hardware; nothing to leak here
            // The line drops as the byte is taken; the next byte, if any, raises it again (a new edge).
            updateIrq(false);
            updateIrq(true);
            return b;
        }
        return 0xFF;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) (value & 0xFF);
        if (offset == COMMAND) {
            pendingCommand = -1; // a new command cancels one still waiting for its data byte
            switch (v) {
                case CMD_RESET -> {
                    resets++;
                    vm.requestReset("i8042 reset command (0xFE)");
                }
                case CMD_READ_CONFIG -> answer(config);
                case CMD_WRITE_CONFIG, CMD_WRITE_KBD_OUTPUT -> pendingCommand = v;
                case CMD_SELF_TEST -> answer(SELF_TEST_PASSED);
                case CMD_KBD_TEST -> answer(PORT_TEST_PASSED);
                // "clock line stuck low": the answer of a controller with no mouse port wired.
                case CMD_AUX_TEST -> answer(AUX_ABSENT);
                case CMD_DISABLE_KBD -> config |= CONFIG_KBD_DISABLED;
                case CMD_ENABLE_KBD -> config &= ~CONFIG_KBD_DISABLED;
                case CMD_DISABLE_AUX -> config |= CONFIG_AUX_DISABLED;
                case CMD_ENABLE_AUX -> config &= ~CONFIG_AUX_DISABLED;
                default -> { } // other controller commands have no effect here
            }
            updateIrq(true);
        } else if (offset == DATA) {
            switch (pendingCommand) {
                case CMD_WRITE_CONFIG -> config = v;
                case CMD_WRITE_KBD_OUTPUT -> answer(v);
                default -> keyboard(v);
            }
            pendingCommand = -1;
            updateIrq(true);
        }
    }

    /** A byte the guest sent to the keyboard: a command, or the parameter of the one before. */
    private void keyboard(int v) {
        config &= ~CONFIG_KBD_DISABLED; // writing to the keyboard enables its port, as on an 8042
        if (keyboardCommand >= 0) {
            keyboardCommand = -1;
            answer(KBD_ACK); // LED state, typematic rate or scan code set: taken, nothing to show
            return;
        }
        switch (v) {
            case KBD_SET_LEDS, KBD_TYPEMATIC, KBD_SCANCODE_SET -> {
                keyboardCommand = v;
                answer(KBD_ACK);
            }
            case KBD_ECHO -> answer(KBD_ECHO);
            case KBD_IDENTIFY -> {
                answer(KBD_ACK);
                answer(KBD_ID_0);
                answer((config & CONFIG_TRANSLATE) != 0 ? KBD_ID_1_TRANSLATED : KBD_ID_1);
            }
            case KBD_ENABLE -> {
                scanning = true;
                answer(KBD_ACK);
            }
            case KBD_DISABLE, KBD_DEFAULTS -> {
                scanning = v == KBD_DEFAULTS;
                answer(KBD_ACK);
            }
            case KBD_RESET -> {
                scanning = true;
                output.clear();
                answer(KBD_ACK);
                answer(KBD_BAT_OK);
            }
            case KBD_RESEND -> answer(KBD_ACK);
            default -> answer(KBD_NAK);
        }
    }

    /**
     * Key presses from the host, as scan code set 2 bytes (what a keyboard sends); translated to
     * set 1 while the configuration byte asks for it. Nothing is taken while the guest has turned
     * scanning off or the buffer is full; returns how many bytes were taken.
     */
    @Override
    public int receive(byte[] data) {
        int taken = 0;
        for (byte b : data) {
            int code = b & 0xFF;
            if (!scanning || output.size() >= OUTPUT_CAPACITY) break;
            if ((config & CONFIG_TRANSLATE) != 0) {
                if (code == ScanCode.BREAK_PREFIX) {
                    translatingBreak = true;
                } else if (code == ScanCode.EXTENDED_PREFIX) {
                    output.add(code);
                } else {
                    int set1 = ScanCode.toSet1(code);
                    if (set1 < 0) break; // a key this keyboard does not have
                    output.add(translatingBreak ? set1 | 0x80 : set1);
                    translatingBreak = false;
                }
            } else {
                output.add(code);
            }
            taken++;
        }
        if (taken < data.length) {
            keysDropped += data.length - taken;
            translatingBreak = false; // the key it announced was dropped too
        }
        updateIrq(true);
        return taken;
    }

    private void answer(int value) {
        if (output.size() < OUTPUT_CAPACITY) output.add(value & 0xFF);
    }

    /** IRQ 1 follows "a byte waits and the keyboard interrupt is on", as the 8042's output does. */
    private void updateIrq(boolean allowHigh) {
        boolean level = allowHigh && !output.isEmpty() && (config & CONFIG_KBD_INT) != 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    @Override
    public void restore(State s) {
        config = s.config() & 0xFF;
        pendingCommand = s.pendingCommand();
        output.clear();
        for (int b : s.output()) if (output.size() < OUTPUT_CAPACITY) output.add(b & 0xFF);
        resets = s.resets();
        keyboardCommand = s.keyboardCommand();
        scanning = s.scanning();
        keysDropped = s.keysDropped();
        translatingBreak = false;
        irqLevel = !output.isEmpty() && (config & CONFIG_KBD_INT) != 0; // the irqchip restored its own view of the line
    }

    @Override
    public State state() {
        return new State(config, pendingCommand, List.copyOf(output), resets, keyboardCommand, scanning, keysDropped);
    }

    @Override
    public Metrics metrics() {
        return new Metrics(resets, keysDropped);
    }

    @Override
    public I8042Codec codec() {
        return CODEC;
    }
}
