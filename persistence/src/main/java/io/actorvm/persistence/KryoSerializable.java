package io.actorvm.persistence;

/**
 * Marks a message serialized by {@link KryoSerializer} (bound in {@code reference.conf}). The class
 * must also be listed in {@code actorvm.kryo.classes}, as must the classes of its fields' values:
 * Kryo here refuses any class that is not registered.
 *
 * <p>For short-lived messages between JVMs of one release (cluster commands and replies). Anything
 * persisted, or that must survive version skew, is protobuf instead.
 */
public interface KryoSerializable {
}
