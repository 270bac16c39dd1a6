package io.actorvm.devices.i8042;

import com.google.protobuf.ByteString;
import io.actorvm.devices.DeviceStateException;
import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.I8042State;

import java.util.ArrayList;
import java.util.List;

/**
 * {@link I8042.State} as an {@code I8042State} message. Version 1 (before the keyboard) held one
 * output byte; it reads as a queue of that byte, the keyboard scanning with no command waiting.
 */
public final class I8042Codec extends StateCodec<I8042.State, I8042State> {
    I8042Codec() {
        super("i8042", 2, I8042State.parser());
    }

    @Override
    protected I8042State toMessage(I8042.State s) {
        byte[] queue = new byte[s.output().size()];
        for (int i = 0; i < queue.length; i++) queue[i] = (byte) (int) s.output().get(i);
        return I8042State.newBuilder().setConfig(s.config()).setPendingCommand(s.pendingCommand())
                .setOutputQueue(ByteString.copyFrom(queue)).setResets(s.resets()).setKeyboardCommand(s.keyboardCommand())
                .setScanningDisabled(!s.scanning()).setKeysDropped(s.keysDropped()).build();
    }

    @Override
    protected I8042.State fromMessage(I8042State m, int version) {
        if (version < 2) {
            List<Integer> output = m.getOutputFull() ? List.of(m.getOutput() & 0xFF) : List.of();
            return new I8042.State(m.getConfig(), m.getPendingCommand(), output, m.getResets(), -1, true, 0);
        }
        if (m.getOutputQueue().size() > I8042.OUTPUT_CAPACITY) {
            throw new DeviceStateException("i8042 state holds " + m.getOutputQueue().size() + " output bytes, more than "
                    + I8042.OUTPUT_CAPACITY);
        }
        List<Integer> output = new ArrayList<>();
        for (byte b : m.getOutputQueue().toByteArray()) output.add(b & 0xFF);
        return new I8042.State(m.getConfig(), m.getPendingCommand(), output, m.getResets(), m.getKeyboardCommand(),
                !m.getScanningDisabled(), m.getKeysDropped());
    }
}
