package io.actorvm.devices.debug;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.PostCodeState;

/** {@link PostCodePort.State} as a {@code PostCodeState} message. */
public final class PostCodePortCodec extends StateCodec<PostCodePort.State, PostCodeState> {
    PostCodePortCodec() {
        super("post-code", 1, PostCodeState.parser());
    }

    @Override
    protected PostCodeState toMessage(PostCodePort.State s) {
        return PostCodeState.newBuilder().addAllRecentCodes(s.recentCodes()).setWrites(s.writes()).build();
    }

    @Override
    protected PostCodePort.State fromMessage(PostCodeState m, int version) {
        return new PostCodePort.State(m.getRecentCodesList(), m.getWrites());
    }
}
