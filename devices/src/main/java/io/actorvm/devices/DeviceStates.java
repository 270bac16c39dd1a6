package io.actorvm.devices;

import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.devices.acpi.AcpiSleepControl;
import io.actorvm.devices.debug.DebugExit;
import io.actorvm.devices.debug.PostCodePort;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.proto.DeviceStateEnvelope;
import io.actorvm.devices.rtc.CmosRtc;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.devices.virtio.VirtioDeviceState;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.devices.virtio.net.VirtioNet;
import io.actorvm.devices.virtio.rng.VirtioRng;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Every device's state codec, by the kind its stored states carry: reading a snapshot's device
 * state back needs no device model, so a damaged or foreign state is refused before anything is
 * built from it.
 */
public final class DeviceStates {
    private DeviceStates() {}

    /** One per kind of device actorvm can attach, and the virtio composite of transport and queues. */
    public static final List<StateCodec<?, ?>> CODECS = List.of(Serial16550.CODEC, CmosRtc.CODEC, I8042.CODEC,
            PostCodePort.CODEC, DebugExit.CODEC, AcpiSleepControl.CODEC, VirtioMmioTransport.CODEC, VirtioBlock.CODEC,
            VirtioNet.CODEC, VirtioRng.CODEC, VirtioDeviceState.CODEC);

    private static final Map<String, StateCodec<?, ?>> BY_KIND =
            CODECS.stream().collect(Collectors.toUnmodifiableMap(StateCodec::kind, Function.identity()));

    /** The codec that wrote {@code bytes}; a {@link DeviceStateException} if none did. */
    public static StateCodec<?, ?> codecOf(byte[] bytes) {
        String kind;
        try {
            kind = DeviceStateEnvelope.parseFrom(bytes).getKind();
        } catch (InvalidProtocolBufferException e) {
            throw new DeviceStateException("device state does not parse");
        }
        StateCodec<?, ?> codec = BY_KIND.get(kind);
        if (codec == null) throw new DeviceStateException("device state of unknown kind '" + kind + "'");
        return codec;
    }

    /** The state record {@code bytes} hold, whichever device wrote them. */
    public static Record decode(byte[] bytes) {
        return codecOf(bytes).decode(bytes);
    }

    /**
     * Puts a stored state back into {@code model} (freshly built, before the guest runs): a virtio
     * transport takes its queues with it, any other stateful device its own record. A
     * {@link DeviceStateException} if the state is damaged or belongs to another kind of device.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static void restore(BusDevice model, byte[] bytes) {
        StateCodec<?, ?> codec = codecOf(bytes);
        Record state = codec.decode(bytes);
        switch (model) {
            case VirtioMmioTransport t when state instanceof VirtioDeviceState v -> t.restore(v.transport(), v.queues());
            case Stateful s when s.codec().kind().equals(codec.kind()) -> s.restore(state);
            default -> throw new DeviceStateException("device " + model.name() + " cannot take a " + codec.kind() + " state");
        }
    }
}
