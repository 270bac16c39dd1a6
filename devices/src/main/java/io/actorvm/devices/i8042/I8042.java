package io.actorvm.devices.i8042;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.VmControl;


/**
 * The PS/2 controller, only as far as guests need it without a keyboard: status reads that say
 * "nothing to read, ready for commands", the controller commands Linux's i8042 driver probes with
 * (configuration byte, controller and keyboard-port self tests, port enable/disable; there is no
 * mouse port, so its test fails as on a machine without one), and command 0xFE (pulse the reset
 * line), which Linux uses for {@code reboot=k}. Occupies ports 0x60 (data) and 0x64 (status/command) through a
 * range of 5 ports starting at 0x60.
 */
public final class I8042 implements BusDevice, io.actorvm.devices.Stateful<I8042.State> {
    public static final int BASE_PORT = 0x60, PORT_COUNT = 5;
    static final int DATA = 0, COMMAND = 4;
    static final int CMD_READ_CONFIG = 0x20, CMD_WRITE_CONFIG = 0x60, CMD_RESET = 0xFE;
    /** Self tests: the controller answers 0x55 when healthy, a port test 0x00 when the port works. */
    static final int CMD_SELF_TEST = 0xAA, CMD_KBD_TEST = 0xAB, CMD_AUX_TEST = 0xA9;
    static final int SELF_TEST_PASSED = 0x55, PORT_TEST_PASSED = 0x00, AUX_ABSENT = 0x02;
    /** Status bit 2: system flag (POST passed); bit 4: keyboard not inhibited (no keylock); bit 0 output full; bit 1 input full. */
    static final int STATUS_SYSTEM = 0x04, STATUS_UNLOCKED = 0x10, STATUS_OUTPUT_FULL = 0x01;

    public record State(int config, int pendingCommand, int output, boolean outputFull, long resets) {}

    public record Metrics(long resetRequests) implements DeviceMetrics {}

    public static final I8042Codec CODEC = new I8042Codec();

    private final VmControl vm;
    private int config = 0x44; // translation on, system flag
    private int pendingCommand = -1;
    private int output;
    private boolean outputFull;
    private long resets;

    public I8042(VmControl vm) {
        this.vm = vm;
    }

    @Override
    public String name() {
        return "i8042";
    }

    @Override
    public long read(long offset, int size) {
        if (offset == COMMAND) return STATUS_SYSTEM | STATUS_UNLOCKED | (outputFull ? STATUS_OUTPUT_FULL : 0);
        if (offset == DATA) {
            outputFull = false;
            return output;
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
                case CMD_WRITE_CONFIG -> pendingCommand = v;
                case CMD_SELF_TEST -> answer(SELF_TEST_PASSED);
                case CMD_KBD_TEST -> answer(PORT_TEST_PASSED);
                // "clock line stuck low": the answer of a controller with no mouse port wired.
                case CMD_AUX_TEST -> answer(AUX_ABSENT);
                default -> { } // other controller commands have no effect without a keyboard
            }
        } else if (offset == DATA && pendingCommand == CMD_WRITE_CONFIG) {
            config = v;
            pendingCommand = -1;
        }
    }

    private void answer(int value) {
        output = value;
        outputFull = true;
    }

    @Override
    public void restore(State s) {
        config = s.config() & 0xFF;
        pendingCommand = s.pendingCommand();
        output = s.output() & 0xFF;
        outputFull = s.outputFull();
        resets = s.resets();
    }

    @Override
    public State state() {
        return new State(config, pendingCommand, output, outputFull, resets);
    }

    @Override
    public Metrics metrics() {
        return new Metrics(resets);
    }

    @Override
    public I8042Codec codec() {
        return CODEC;
    }
}
