package io.actorvm.devices.virtio;

import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.mmu.GuestMemory;

/**
 * Fills one buffer of an inbound queue (see {@link VirtioDevice#isInbound}) with data that arrived
 * from the host. Returns the bytes written, or -1 if the buffer cannot hold the data (it is then
 * dropped). Runs on the queue's ring actor: a memory copy, never host I/O.
 */
@FunctionalInterface
public interface InboundHandler {
    int fill(byte[] data, DescriptorChain chain, GuestMemory memory);
}
