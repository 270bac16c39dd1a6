package io.actorvm.devices.virtio.rng;

import io.actorvm.devices.virtio.QueueHandler;
import io.actorvm.devices.virtio.VirtioDevice;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.mmu.GuestMemory;

import java.security.SecureRandom;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * virtio-rng (virtio 1.2, section 5.4): fills each device-writable buffer the guest offers with
 * bytes from the host's {@link SecureRandom}, up to a cap per request.
 */
public final class VirtioRng implements VirtioDevice {
    public static final int DEVICE_ID = 4;
    static final int QUEUE_SIZE = 64, MAX_BYTES_PER_REQUEST = 64 * 1024;

    private final SecureRandom random;
    private final LongAdder requests = new LongAdder(), bytes = new LongAdder();

    public VirtioRng(SecureRandom random) {
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
        random.nextBytes(data);
        requests.increment();
        bytes.add(data.length);
        return chain.write(memory, 0, data);
    }

    @Override
    public Map<String, Long> metrics() {
        return Map.of("requests", requests.sum(), "bytes", bytes.sum());
    }
}
