package io.actorvm.vmm.actors.io;

import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.device.DeviceBacklog;
import org.apache.pekko.actor.typed.ActorRef;

/** A device actor as the I/O bus knows it, with the backlog its writers take places in. */
public record DeviceRef(String name, ActorRef<DeviceActor.Command> ref, DeviceBacklog backlog) {}
