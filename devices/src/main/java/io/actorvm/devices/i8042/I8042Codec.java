package io.actorvm.devices.i8042;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.I8042State;

/** {@link I8042.State} as an {@code I8042State} message. */
public final class I8042Codec extends StateCodec<I8042.State, I8042State> {
    I8042Codec() {
        super("i8042", 1, I8042State.parser());
    }

    @Override
    protected I8042State toMessage(I8042.State s) {
        return I8042State.newBuilder().setConfig(s.config()).setPendingCommand(s.pendingCommand()).setOutput(s.output())
                .setOutputFull(s.outputFull()).setResets(s.resets()).build();
    }

    @Override
    protected I8042.State fromMessage(I8042State m, int version) {
        return new I8042.State(m.getConfig(), m.getPendingCommand(), m.getOutput(), m.getOutputFull(), m.getResets());
    }
}
