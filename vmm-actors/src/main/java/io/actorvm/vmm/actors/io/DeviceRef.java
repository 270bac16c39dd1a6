package io.actorvm.vmm.actors.io;

import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.actor.typed.ActorRef;

/** A device actor as the I/O bus knows it. */
public record DeviceRef(String name, ActorRef<DeviceActor.Command> ref) {}
