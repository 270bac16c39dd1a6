package io.actorvm.vmm.actors.io;

import io.actorvm.kvm.VmExit;

/**
 * What a vCPU thread hands its I/O exits to. The vCPU knows only this seam: the
 * {@link ExitRouter} turns exits into device messages; a recorder can wrap it to journal every
 * exit and the value each read returned, and a replayer can stand in for it.
 */
public interface ExitHandler {
    /** Delivers what KVM's coalesced ring buffered since the last exit; called before every exit is handled. */
    void drainCoalesced();

    void portOut(VmExit.PortOut out);

    /** The {@code size * count} bytes the guest reads; the array may be reused at this vCPU's next read. */
    byte[] portIn(VmExit.PortIn in);

    void mmioWrite(VmExit.MmioWrite write);

    /** The {@code length} bytes the guest reads; the array may be reused at this vCPU's next read. */
    byte[] mmioRead(VmExit.MmioRead read);

    /** The VM's exit and I/O counters. */
    IoStats stats();
}
