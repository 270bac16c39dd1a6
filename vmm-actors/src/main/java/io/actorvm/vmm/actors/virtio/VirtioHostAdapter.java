package io.actorvm.vmm.actors.virtio;

import io.actorvm.devices.virtio.VirtioHost;
import io.actorvm.io.buffering.virtq.SplitQueue;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.List;

/** The transport's view of its rings: each call becomes a message to the device's {@link VirtioRings}. */
public final class VirtioHostAdapter implements VirtioHost {
    private volatile ActorRef<VirtioRings.Command> rings;

    /** Set once, right after the rings actor is spawned and before the guest runs. */
    public void bind(ActorRef<VirtioRings.Command> value) {
        rings = value;
    }

    @Override
    public void activate(List<SplitQueue.State> queues) {
        rings.tell(new VirtioRings.Activate(new java.util.ArrayList<>(queues))); // may hold nulls: copy, not List.copyOf
    }

    @Override
    public void deactivate() {
        rings.tell(new VirtioRings.Deactivate());
    }

    @Override
    public void notifyQueue(int index) {
        rings.tell(new VirtioRings.Notify(index));
    }
}
