package io.actorvm.persistence;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;

/**
 * Writes a typed {@link ActorRef} in a message (a command's {@code replyTo}) as Pekko's own
 * serialization format (the actor's full path with address), and resolves it back in the
 * receiving actor system, so a reply finds its way across JVMs.
 */
final class KryoActorRefSerializer extends Serializer<ActorRef<?>> {
    private final ExtendedActorSystem system;
    /** Looked up on first use: the serializer is built while the actor system is still starting. */
    private volatile ActorRefResolver resolver;

    KryoActorRefSerializer(ExtendedActorSystem system) {
        this.system = system;
    }

    private ActorRefResolver resolver() {
        ActorRefResolver r = resolver;
        if (r == null) resolver = r = ActorRefResolver.get(Adapter.toTyped(system));
        return r;
    }

    @Override
    public void write(Kryo kryo, Output output, ActorRef<?> ref) {
        output.writeString(resolver().toSerializationFormat(ref));
    }

    @Override
    public ActorRef<?> read(Kryo kryo, Input input, Class<? extends ActorRef<?>> type) {
        return resolver().resolveActorRef(input.readString());
    }
}
