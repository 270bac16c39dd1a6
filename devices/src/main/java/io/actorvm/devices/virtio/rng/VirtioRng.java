package io.actorvm.devices.virtio.rng;

import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.virtio.AbstractVirtioDevice;
import io.actorvm.devices.virtio.NegotiatedStateCodec;
import io.actorvm.devices.virtio.QueueHandler;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.mmu.GuestMemory;

import io.actorvm.devices.EntropySource;

import java.util.concurrent.atomic.LongAdder;

/**
 * virtio-rng (virtio 1.2, section 5.4): fills each device-writable buffer the guest offers with
 * bytes from an {@link EntropySource} (the host's SecureRandom in production), up to a cap per request.
 */
public final class VirtioRng extends AbstractVirtioDevice {
    public static final NegotiatedStateCodec CODEC = new NegotiatedStateCodec("virtio-rng");
    public static final int DEVICE_ID = 4;
    static final int QUEUE_SIZE = 64, MAX_BYTES_PER_REQUEST = 64 * 1024;

    private final EntropySource random;
    private final LongAdder requests = new LongAdder(), bytes = new LongAdder();

    public record Metrics(long requests, long bytes) implements DeviceMetrics {}

    public VirtioRng(EntropySource random) {
        super(CODEC);
        this.random = random;
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public String name() {
        return "virtio-rng";
    }

    @Override
    public long features() {
        return F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        return 0; // no config space
    }

    @Override
    public QueueHandler handler(int index) {
        return this::fill;
    }

    private int fill(DescriptorChain chain, GuestMemory memory) {
        byte[] data = new byte[(int) Math.min(chain.writableLength(), MAX_BYTES_PER_REQUEST)];
        random.fill(data);
        requests.increment();
        bytes.add(data.length);
        return chain.write(memory, 0, data);
    }

    @Override
    public Metrics metrics() {
        return new Metrics(requests.sum(), bytes.sum());
    }

}
