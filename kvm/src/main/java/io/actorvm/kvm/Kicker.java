package io.actorvm.kvm;

import io.actorvm.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Gets a vCPU thread out of KVM_RUN with a thread-directed real-time signal, as QEMU does: the
 * signal is blocked on the vCPU thread at all times except inside KVM_RUN (KVM_SET_SIGNAL_MASK),
 * so it can only ever interrupt the ioctl; it is then consumed with sigtimedwait. Its disposition
 * is SIG_IGN as a second guard: a stray delivery is dropped instead of killing the JVM.
 */
final class Kicker {
    /** SIGRTMIN+5: clear of glibc's internal signals and of the JVM's SIGUSR2/SIGQUIT. */
    static final int SIGNAL = Libc.sigrtmin() + 5;

    static {
        Libc.ignoreSignal(SIGNAL);
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment onlyKick = arena.allocate(Libc.GLIBC_SIGSET_BYTES, 8);
    private final MemorySegment zeroTimeout = arena.allocate(16, 8);
    private final MemorySegment previousMask = arena.allocate(Libc.GLIBC_SIGSET_BYTES, 8);
    private final MemorySegment kvmMask = arena.allocate(4 + 8, 8);
    private long thread;
    private boolean bound;

    Kicker() {
        Libc.sigaddset(onlyKick, SIGNAL);
    }

    synchronized void bind(int vcpuFd) {
        Libc.pthreadSigmask(Libc.SIG_BLOCK, onlyKick, previousMask);
        // KVM's mask is the thread's previous mask (which did not block the kick): 8 bytes, kernel sigset.
        kvmMask.set(JAVA_INT, 0, 8);
        MemorySegment.copy(previousMask, 0, kvmMask, 4, 8);
        Libc.sigdelset(kvmMask.asSlice(4, 8), SIGNAL);
        Libc.ioctl(vcpuFd, Ioctls.KVM_SET_SIGNAL_MASK, kvmMask, "KVM_SET_SIGNAL_MASK");
        thread = Libc.pthreadSelf();
        bound = true;
    }

    synchronized void unbind() {
        drain();
        bound = false;
    }

    /** Signals the bound thread; a no-op when no thread runs the vCPU (pthread_kill on a dead thread is undefined). */
    synchronized void kick() {
        if (bound) Libc.pthreadKill(thread, SIGNAL);
    }

    synchronized void close() {
        bound = false;
        arena.close();
    }

    /** Consumes pending kicks on the calling (vCPU) thread without waiting. */
    void drain() {
        while (Libc.sigtimedwait(onlyKick, zeroTimeout) > 0) {
            // one pending kick consumed; real-time signals queue, so loop until none is left
        }
    }
}
