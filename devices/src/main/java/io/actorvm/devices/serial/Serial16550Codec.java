package io.actorvm.devices.serial;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.SerialState;

/** {@link Serial16550.State} as a {@code SerialState} message. */
public final class Serial16550Codec extends StateCodec<Serial16550.State, SerialState> {
    Serial16550Codec() {
        super("serial-16550", 1, SerialState.parser());
    }

    @Override
    protected SerialState toMessage(Serial16550.State s) {
        return SerialState.newBuilder().setIer(s.ier()).setLcr(s.lcr()).setMcr(s.mcr()).setLsrErrors(s.lsrErrors())
                .setScr(s.scr()).setDivisor(s.divisor()).setFifoEnabled(s.fifoEnabled()).setThrInterrupt(s.thrInterrupt())
                .setRx(bytes(s.rx())).build();
    }

    @Override
    protected Serial16550.State fromMessage(SerialState m, int version) {
        return new Serial16550.State(m.getIer(), m.getLcr(), m.getMcr(), m.getLsrErrors(), m.getScr(), m.getDivisor(),
                m.getFifoEnabled(), m.getThrInterrupt(), m.getRx().toByteArray());
    }
}
