package io.actorvm.devices;

import java.security.SecureRandom;

/**
 * Where a device's random bytes come from (virtio-rng). Named so that the bytes a guest sees can
 * be recorded and fed back on a replay; in production, the host's {@link SecureRandom}.
 */
@FunctionalInterface
public interface EntropySource {
    /** Fills {@code into} with random bytes. */
    void fill(byte[] into);

    /** The host's strong random numbers. */
    static EntropySource secureRandom() {
        SecureRandom random = new SecureRandom();
        return random::nextBytes;
    }
}
