package io.actorvm.vmm.actors.io;

import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.device.DeviceBacklog;
import org.apache.pekko.actor.typed.ActorRef;

/** A device actor as the I/O bus knows it, with the backlog its vCPUs put their accesses in. */
public record DeviceRef(String name, ActorRef<DeviceActor.Command> ref, DeviceBacklog backlog) {
    /** After a put that found the actor idle: tell it (the one message an access may cost). */
    void wake(boolean idle) {
        if (idle) ref.tell(DeviceActor.DrainBacklog.INSTANCE);
    }
}
