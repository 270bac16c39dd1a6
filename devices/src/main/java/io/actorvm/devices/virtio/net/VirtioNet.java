package io.actorvm.devices.virtio.net;

import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.virtio.AbstractVirtioDevice;
import io.actorvm.devices.virtio.NegotiatedStateCodec;
import io.actorvm.devices.virtio.QueueHandler;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.io.buffering.virtq.VirtQueueException;
import io.actorvm.mmu.GuestMemory;

import java.util.concurrent.atomic.LongAdder;

/**
 * virtio-net (virtio 1.2, section 5.1) without offloads: queue 0 receives, queue 1 transmits.
 * Every buffer starts with the 12-byte {@code virtio_net_hdr}; we offer no checksum or
 * segmentation offload, so it is all zeros except {@code num_buffers = 1} on receive.
 * Transmit is request-driven (a {@link QueueHandler}); receive is inbound: frames from the backend
 * fill buffers the guest made available, see {@link #receiveFrame}.
 */
public final class VirtioNet extends AbstractVirtioDevice {
    public static final NegotiatedStateCodec CODEC = new NegotiatedStateCodec("virtio-net");
    public static final int DEVICE_ID = 1, RX_QUEUE = 0, TX_QUEUE = 1, QUEUE_SIZE = 256;
    public static final int HEADER = 12;
    /** Largest frame we move: an untagged 1500-byte MTU frame plus a VLAN tag, without the FCS. */
    public static final int MAX_FRAME = 1518;
    static final long F_MAC = 1L << 5, F_STATUS = 1L << 16;
    static final int LINK_UP = 1;

    private final byte[] mac;
    private final NetBackend backend;
    private final LongAdder txFrames = new LongAdder(), txBytes = new LongAdder(), txErrors = new LongAdder(),
            rxFrames = new LongAdder(), rxBytes = new LongAdder(), rxTooBig = new LongAdder();

    public record Metrics(long txFrames, long txBytes, long txErrors, long rxFrames, long rxBytes, long rxTooBig)
            implements DeviceMetrics {}

    public VirtioNet(byte[] mac, NetBackend backend) {
        super(CODEC);
        if (mac.length != 6) throw new IllegalArgumentException("a MAC address has 6 bytes");
        this.mac = mac.clone();
        this.backend = backend;
    }

    /** The device's MAC address (a copy). */
    public byte[] mac() {
        return mac.clone();
    }

    public NetBackend backend() {
        return backend;
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public String name() {
        return "virtio-net";
    }

    @Override
    public long features() {
        return F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC | F_MAC | F_STATUS;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public boolean isInbound(int queue) {
        return queue == RX_QUEUE;
    }

    @Override
    public long readConfig(int offset, int size) {
        // struct virtio_net_config: mac[6] @0, status u16 @6
        byte[] config = {mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], LINK_UP, 0};
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            int at = offset + i;
            v = (v << 8) | (at >= 0 && at < config.length ? config[at] & 0xFF : 0);
        }
        return v;
    }

    @Override
    public io.actorvm.devices.virtio.InboundHandler inbound(int index) {
        if (index != RX_QUEUE) throw new IllegalArgumentException("queue " + index + " is not inbound");
        return this::receiveFrame;
    }

    @Override
    public QueueHandler handler(int index) {
        if (index != TX_QUEUE) throw new IllegalArgumentException("queue " + index + " is not request-driven");
        return this::transmit;
    }

    private int transmit(DescriptorChain chain, GuestMemory memory) throws java.io.IOException {
        long length = chain.readableLength();
        if (length < HEADER || length > HEADER + MAX_FRAME || chain.writableLength() != 0) {
            throw new VirtQueueException("virtio-net transmit " + chain.head() + ": " + length + " bytes is not a frame");
        }
        byte[] all = chain.readAll(memory, (int) length);
        byte[] frame = java.util.Arrays.copyOfRange(all, HEADER, all.length);
        try {
            backend.send(frame);
            txFrames.increment();
            txBytes.add(frame.length);
        } catch (java.io.IOException e) {
            txErrors.increment(); // a backend problem drops the frame, as a cable would; the guest carries on
        }
        return 0;
    }

    /**
     * Puts a received frame into a receive chain: header then frame. Returns the bytes written, or
     * -1 if the chain is too small for it (the frame is dropped and counted).
     */
    public int receiveFrame(byte[] frame, DescriptorChain chain, GuestMemory memory) {
        if (chain.readableLength() != 0) throw new VirtQueueException("virtio-net receive buffer " + chain.head() + " is device-readable");
        if (chain.writableLength() < HEADER + frame.length) {
            rxTooBig.increment();
            return -1;
        }
        byte[] out = new byte[HEADER + frame.length];
        out[10] = 1; // num_buffers = 1 (little-endian u16 at offset 10)
        System.arraycopy(frame, 0, out, HEADER, frame.length);
        rxFrames.increment();
        rxBytes.add(frame.length);
        return chain.write(memory, 0, out);
    }

    @Override
    public Metrics metrics() {
        return new Metrics(txFrames.sum(), txBytes.sum(), txErrors.sum(), rxFrames.sum(), rxBytes.sum(), rxTooBig.sum());
    }

}
