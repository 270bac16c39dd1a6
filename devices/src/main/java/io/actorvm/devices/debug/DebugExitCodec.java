package io.actorvm.devices.debug;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.DebugExitState;

/** {@link DebugExit.State} as a {@code DebugExitState} message. */
public final class DebugExitCodec extends StateCodec<DebugExit.State, DebugExitState> {
    DebugExitCodec() {
        super("debug-exit", 1, DebugExitState.parser());
    }

    @Override
    protected DebugExitState toMessage(DebugExit.State s) {
        return DebugExitState.newBuilder().setLastStatus(s.lastStatus()).setExits(s.exits()).build();
    }

    @Override
    protected DebugExit.State fromMessage(DebugExitState m, int version) {
        return new DebugExit.State(m.getLastStatus(), m.getExits());
    }
}
