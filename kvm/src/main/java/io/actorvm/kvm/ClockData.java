package io.actorvm.kvm;

/**
 * The VM's kvmclock, {@code struct kvm_clock_data} (KVM_GET_CLOCK / KVM_SET_CLOCK).
 *
 * @param clock    kvmclock in nanoseconds, as the guest sees it
 * @param flags    on get: which of the other fields are valid ({@link #TSC_STABLE}, {@link #REALTIME},
 *                 {@link #HOST_TSC}); on set: {@link #REALTIME} asks KVM to advance {@code clock} by the
 *                 host wall-clock time elapsed since {@code realtime} (migration), 0 sets {@code clock}
 *                 as it is (a snapshot resumes where it stopped). Kernels before 5.16 refuse any flag
 *                 on set.
 * @param realtime host CLOCK_REALTIME in ns at the instant {@code clock} was read (with {@link #REALTIME})
 * @param hostTsc  host TSC at that instant (with {@link #HOST_TSC})
 */
public record ClockData(long clock, int flags, long realtime, long hostTsc) {
    /** KVM_CLOCK_TSC_STABLE: every vCPU saw exactly {@code clock} at that instant. */
    public static final int TSC_STABLE = 2;
    /** KVM_CLOCK_REALTIME. */
    public static final int REALTIME = 1 << 2;
    /** KVM_CLOCK_HOST_TSC. */
    public static final int HOST_TSC = 1 << 3;

    /** Just a clock value, no flags: what KVM_SET_CLOCK takes to set kvmclock to exactly {@code nanos}. */
    public static ClockData of(long nanos) {
        return new ClockData(nanos, 0, 0, 0);
    }
}
