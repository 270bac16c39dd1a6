package io.actorvm.persistence;

import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.persistence.proto.VmEvent;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.SerializerWithStringManifest;

import java.io.NotSerializableException;

/**
 * Pekko serializer for the VM journal's {@link VmEvent}s: the protobuf bytes, with the message's
 * full protobuf name as manifest. Bound in {@code reference.conf}; Pekko's own protobuf serializer
 * lives in pekko-remote, which the persistence module does not need.
 */
public final class ProtobufVmEventSerializer extends SerializerWithStringManifest {
    /** Pekko reserves 0 to 40; the value must never change once events are journaled. */
    public static final int IDENTIFIER = 7301;
    public static final String VM_EVENT_MANIFEST = VmEvent.getDescriptor().getFullName();

    public ProtobufVmEventSerializer(ExtendedActorSystem system) {
        this();
    }

    public ProtobufVmEventSerializer() {
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    @Override
    public String manifest(Object o) {
        if (o instanceof VmEvent) return VM_EVENT_MANIFEST;
        throw unsupported(o);
    }

    @Override
    public byte[] toBinary(Object o) {
        if (o instanceof VmEvent e) return e.toByteArray();
        throw unsupported(o);
    }

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        if (!VM_EVENT_MANIFEST.equals(manifest)) {
            throw new NotSerializableException("unknown manifest '" + manifest + "' for " + getClass().getSimpleName());
        }
        try {
            return VmEvent.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("cannot parse a VmEvent (" + bytes.length + " bytes): " + e.getMessage(), e);
        }
    }

    private IllegalArgumentException unsupported(Object o) {
        return new IllegalArgumentException(getClass().getSimpleName() + " serializes VmEvent only, not "
                + (o == null ? "null" : o.getClass().getName()));
    }
}
