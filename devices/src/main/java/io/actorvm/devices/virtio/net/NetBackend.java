package io.actorvm.devices.virtio.net;

import java.io.IOException;
import java.util.function.Consumer;

/**
 * Where a virtio-net device's Ethernet frames go and come from: a host tap device, a port of an
 * in-JVM switch, or nothing. {@link #send} may be called from several threads; received frames are
 * handed to the receiver given to {@link #start} on the backend's own thread.
 */
public interface NetBackend extends AutoCloseable {
    void start(Consumer<byte[]> receiver);

    void send(byte[] frame) throws IOException;

    @Override
    void close();
}
