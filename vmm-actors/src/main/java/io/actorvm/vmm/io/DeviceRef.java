package io.actorvm.vmm.io;

import io.actorvm.vmm.device.DeviceActor;
import org.apache.pekko.actor.typed.ActorRef;

/** A device actor as the I/O bus knows it. */
public record DeviceRef(String name, ActorRef<DeviceActor.Command> ref) {}
