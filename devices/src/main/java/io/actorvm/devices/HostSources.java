package io.actorvm.devices;

import java.time.Clock;
import java.util.Objects;

/**
 * The host's non-deterministic inputs to a VM's devices, in one place: the wall clock the CMOS RTC
 * shows and the entropy virtio-rng hands out. A VM gets them when it is created (never from a
 * static call inside a device), so a test can fix them and a replay can feed recorded values.
 * (The third source, the order in which device I/O completes, is the device I/O dispatcher,
 * {@code actorvm.device-io-dispatcher} in the runtime's configuration.) With {@code recording}
 * set, the VM writes a device recording there, which {@code replay-devices} checks without KVM.
 */
public record HostSources(Clock wallClock, EntropySource entropy, java.nio.file.Path recording) {
    public HostSources {
        Objects.requireNonNull(wallClock, "wallClock");
        Objects.requireNonNull(entropy, "entropy");
    }

    /** These sources, with no recording. */
    public HostSources(Clock wallClock, EntropySource entropy) {
        this(wallClock, entropy, null);
    }

    /**
     * These sources, and every call the VM makes into its device models recorded to
     * {@code file} with what the models took from them (see {@code io.actorvm.devices.record}).
     */
    public HostSources recordingTo(java.nio.file.Path file) {
        return new HostSources(wallClock, entropy, file);
    }

    /** The host's UTC clock and its strong random numbers. */
    public static HostSources system() {
        return new HostSources(Clock.systemUTC(), EntropySource.secureRandom());
    }
}
