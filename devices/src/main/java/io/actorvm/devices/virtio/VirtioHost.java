package io.actorvm.devices.virtio;

import io.actorvm.io.buffering.virtq.SplitQueue;

import java.util.List;

/**
 * What a virtio transport needs from the VMM that hosts it: rings to run once the driver is
 * ready, and to stop them on reset. Implemented by the actor runtime (one ring actor per queue).
 */
public interface VirtioHost {
    /**
     * The driver set DRIVER_OK: run these queues (null for a queue the driver did not make ready).
     * Called on the transport's thread; the states are already validated against guest memory.
     */
    void activate(List<SplitQueue.State> queues);

    /** The driver reset the device (or it failed): stop the rings; in-flight completions are dropped. */
    void deactivate();

    /** A queue notification that reached the transport register instead of an ioeventfd. */
    void notifyQueue(int index);
}
