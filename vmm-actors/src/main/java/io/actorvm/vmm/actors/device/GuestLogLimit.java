package io.actorvm.vmm.actors.device;

import java.time.Duration;
import java.util.OptionalLong;

/**
 * A budget for log lines a guest can cause (a malformed descriptor chain, a device that failed):
 * a guest that resets and breaks a device in a loop must not fill the host's logs or slow the
 * VMM down writing them. A token bucket: {@code burst} lines at once, then one per
 * {@code interval}; lines over budget are counted, and the next line admitted says how many
 * were left out. Thread-safe, so a device's rings, which come and go with each reset, can share
 * the budget of the device that outlives them.
 */
public final class GuestLogLimit {
    /** Five lines at once, then one every twelve seconds: at most about five a minute per device. */
    public static GuestLogLimit perDevice() {
        return new GuestLogLimit(5, Duration.ofSeconds(12));
    }

    private final int burst;
    private final long intervalNanos;
    private double tokens;
    private long refilledAt;
    private long suppressed;

    public GuestLogLimit(int burst, Duration interval) {
        this.burst = burst;
        this.intervalNanos = interval.toNanos();
        this.tokens = burst;
        this.refilledAt = System.nanoTime();
    }

    /**
     * Whether a line may be logged now: empty when it is over budget (and then counted), else the
     * number of lines left out since the last one admitted.
     */
    public synchronized OptionalLong admit() {
        long now = System.nanoTime();
        tokens = Math.min(burst, tokens + (double) (now - refilledAt) / intervalNanos);
        refilledAt = now;
        if (tokens < 1) {
            suppressed++;
            return OptionalLong.empty();
        }
        tokens--;
        long left = suppressed;
        suppressed = 0;
        return OptionalLong.of(left);
    }

    /** What to append to an admitted line: nothing, or how many similar lines were left out. */
    public static String suppressedNote(long left) {
        return left == 0 ? "" : " (" + left + " similar messages suppressed)";
    }
}
