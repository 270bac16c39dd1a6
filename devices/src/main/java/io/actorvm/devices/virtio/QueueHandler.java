package io.actorvm.devices.virtio;

import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.mmu.GuestMemory;

/**
 * Processes one request (a descriptor chain) of a queue against a host backend. Runs on a
 * blocking-I/O thread, several at a time for one queue; must be thread-safe. Returns the number
 * of bytes written into the chain's device-writable buffers. A malformed request is a
 * {@link io.actorvm.io.buffering.virtq.VirtQueueException}: the device then needs a reset.
 */
@FunctionalInterface
public interface QueueHandler {
    int process(DescriptorChain chain, GuestMemory memory) throws java.io.IOException;
}
