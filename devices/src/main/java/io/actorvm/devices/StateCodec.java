package io.actorvm.devices;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.actorvm.devices.proto.DeviceStateEnvelope;

/**
 * Turns one device's {@link Stateful} state record into bytes and back, through the device's
 * protobuf message ({@code device_state.proto}) inside an envelope that names the codec and the
 * schema version it wrote. Each device has its codec beside it; decoding refuses a state that
 * does not parse, that another codec wrote, or that a newer schema wrote, with a one-line
 * {@link DeviceStateException}. A codec that changes its message bumps its version and keeps
 * reading the older ones in {@link #fromMessage}.
 */
public abstract class StateCodec<S extends Record, M extends Message> {
    private final String kind;
    private final int version;
    private final Parser<M> parser;

    protected StateCodec(String kind, int version, Parser<M> parser) {
        if (version < 1) throw new IllegalArgumentException("codec versions start at 1");
        this.kind = kind;
        this.version = version;
        this.parser = parser;
    }

    /** The name this codec writes into every state, e.g. {@code serial-16550}. */
    public final String kind() {
        return kind;
    }

    /** The schema version this codec writes. */
    public final int version() {
        return version;
    }

    public final byte[] encode(S state) {
        return DeviceStateEnvelope.newBuilder().setKind(kind).setVersion(version).setState(toMessage(state).toByteString())
                .build().toByteArray();
    }

    public final S decode(byte[] bytes) {
        DeviceStateEnvelope envelope;
        try {
            envelope = DeviceStateEnvelope.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new DeviceStateException(kind + " state does not parse");
        }
        if (!envelope.getKind().equals(kind)) {
            throw new DeviceStateException("a " + (envelope.getKind().isEmpty() ? "nameless" : envelope.getKind())
                    + " state is not a " + kind + " state");
        }
        if (envelope.getVersion() < 1 || envelope.getVersion() > version) {
            throw new DeviceStateException(kind + " state has schema version " + envelope.getVersion()
                    + "; this build reads versions 1 to " + version);
        }
        M message;
        try {
            message = parser.parseFrom(envelope.getState());
        } catch (InvalidProtocolBufferException e) {
            throw new DeviceStateException(kind + " state (version " + envelope.getVersion() + ") does not parse");
        }
        return fromMessage(message, envelope.getVersion());
    }

    protected abstract M toMessage(S state);

    /** The state from a message of schema {@code version} (at most {@link #version()}). */
    protected abstract S fromMessage(M message, int version);

    /** For codecs whose state holds bytes. */
    protected static ByteString bytes(byte[] b) {
        return ByteString.copyFrom(b);
    }
}
