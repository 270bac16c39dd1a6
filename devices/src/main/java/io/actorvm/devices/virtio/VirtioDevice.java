package io.actorvm.devices.virtio;

import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.Stateful;

/**
 * The device-type half of a virtio device (block, entropy, network ...): its id, feature bits,
 * config space, queues and their request handlers. The transport ({@link VirtioMmioTransport})
 * does the rest. Every device has the same shape: this model, a host backend, a state record
 * with its codec, metrics. A model's state is what the driver negotiated with it
 * ({@link NegotiatedState}); queue progress lives in the rings, registers in the transport.
 */
public interface VirtioDevice extends Stateful<VirtioDevice.NegotiatedState> {
    /** The state of a virtio device model: the features the driver accepted (0 before FEATURES_OK). */
    record NegotiatedState(long features) {}

    /** VIRTIO_F_VERSION_1: we only speak modern virtio. */
    long F_VERSION_1 = 1L << 32;
    /** VIRTIO_F_RING_EVENT_IDX and VIRTIO_RING_F_INDIRECT_DESC, which {@code SplitQueue} implements. */
    long F_EVENT_IDX = 1L << 29, F_INDIRECT_DESC = 1L << 28;

    /** The virtio device id (2 block, 4 entropy, 1 network ...). */
    int deviceId();

    String name();

    /** Features offered to the driver; must include {@link #F_VERSION_1}. */
    long features();

    int queueCount();

    /** Largest queue size the device accepts for queue {@code index} (a power of two). */
    int queueMaxSize(int index);

    /** Reads {@code size} bytes of config space at {@code offset}; out of range reads as zero. */
    long readConfig(int offset, int size);

    /** Writes config space; most devices ignore writes. */
    default void writeConfig(int offset, int size, long value) {}

    /**
     * True for a queue the device fills on its own schedule (a network receive queue): its buffers
     * are consumed when data arrives, not when the driver notifies. Such queues have no handler.
     */
    default boolean isInbound(int queue) {
        return false;
    }

    /** The filler of inbound queue {@code index}. */
    default InboundHandler inbound(int index) {
        throw new IllegalArgumentException("queue " + index + " is not inbound");
    }

    /** The request processor of queue {@code index}, called off the device actor (it may block on host I/O). */
    QueueHandler handler(int index);

    /** Called when the driver resets the device: forget negotiated state. */
    default void reset() {}

    /** The features the driver accepted, once FEATURES_OK is set. */
    void negotiated(long features);

    DeviceMetrics metrics();

    @Override
    NegotiatedStateCodec codec();

    @Override
    default void restore(NegotiatedState s) {
        negotiated(s.features() & features()); // never more than this model offers
    }
}
