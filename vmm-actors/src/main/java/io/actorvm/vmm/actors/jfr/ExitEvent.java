package io.actorvm.vmm.actors.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One VM exit in about every {@link #SAMPLE_EVERY} of a vCPU, timed from the return of KVM_RUN to
 * the end of its handling (for a read: until the device answered). Sampled because a guest makes
 * hundreds of thousands of exits a second; the event thread is the vCPU's. The gap between two
 * samples is random: a fixed one would alias with a guest's periodic pattern (a UART driver
 * alternates a status read and a data write, and every 1024th exit was always the write).
 */
@Name("actorvm.Exit")
@Label("VM Exit (sampled)")
@Category({"actorvm", "vCPU"})
@Description("About one in every 1024 exits of a vCPU (at random), with the time its handling took")
@StackTrace(false)
public final class ExitEvent extends Event {
    /** Exits per vCPU between two recorded ones, on average. */
    public static final int SAMPLE_EVERY = 1024;

    /** How many exits until the next sample: uniform in [1, 2 × {@link #SAMPLE_EVERY}). */
    public static int nextSampleIn() {
        return java.util.concurrent.ThreadLocalRandom.current().nextInt(1, 2 * SAMPLE_EVERY);
    }

    @Label("vCPU")
    public int vcpu;

    @Label("Kind")
    @Description("The exit's type: PortOut, PortIn, MmioWrite, MmioRead, Halt, ...")
    public String kind;
}
