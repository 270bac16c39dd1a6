package io.actorvm.devices;

import java.time.Clock;
import java.util.Objects;

/**
 * The host's non-deterministic inputs to a VM's devices, in one place: the wall clock the CMOS RTC
 * shows and the entropy virtio-rng hands out. A VM gets them when it is created (never from a
 * static call inside a device), so a test can fix them and a replay can feed recorded values.
 * (The third source, the order in which device I/O completes, is the device I/O dispatcher,
 * {@code actorvm.device-io-dispatcher} in the runtime's configuration.)
 */
public record HostSources(Clock wallClock, EntropySource entropy) {
    public HostSources {
        Objects.requireNonNull(wallClock, "wallClock");
        Objects.requireNonNull(entropy, "entropy");
    }

    /** The host's UTC clock and its strong random numbers. */
    public static HostSources system() {
        return new HostSources(Clock.systemUTC(), EntropySource.secureRandom());
    }
}
