package io.actorvm.devices.rtc;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.RtcState;

/** {@link CmosRtc.State} as an {@code RtcState} message. */
public final class CmosRtcCodec extends StateCodec<CmosRtc.State, RtcState> {
    CmosRtcCodec() {
        super("cmos-rtc", 1, RtcState.parser());
    }

    @Override
    protected RtcState toMessage(CmosRtc.State s) {
        return RtcState.newBuilder().setIndex(s.index()).setNvram(bytes(s.nvram())).setOffsetSeconds(s.offsetSeconds()).build();
    }

    @Override
    protected CmosRtc.State fromMessage(RtcState m, int version) {
        return new CmosRtc.State(m.getIndex(), m.getNvram().toByteArray(), m.getOffsetSeconds());
    }
}
