package io.actorvm.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A vCPU handle. {@link #run()} and the register ioctls belong to the vCPU's own thread (KVM
 * serialises vCPU ioctls; from another thread they block while the vCPU is in KVM_RUN).
 * {@link #kick()} is the one call meant for other threads.
 */
public final class VcpuFd implements AutoCloseable {
    /** KVM_MP_STATE_RUNNABLE / UNINITIALIZED / INIT_RECEIVED / HALTED / SIPI_RECEIVED. */
    public static final int MP_RUNNABLE = 0, MP_UNINITIALIZED = 1, MP_INIT_RECEIVED = 2, MP_HALTED = 3,
            MP_SIPI_RECEIVED = 4;

    private final int id;
    private final int fd;
    private final KvmRun run;
    private final Arena arena;
    private final MemorySegment mapping;
    private final Kicker kicker = new Kicker();

    VcpuFd(int id, int fd, Arena arena, MemorySegment mapping) {
        this.id = id;
        this.fd = fd;
        this.arena = arena;
        this.mapping = mapping;
        this.run = new KvmRun(mapping);
    }

    public int id() {
        return id;
    }

    /** The kvm_run page. */
    public KvmRun runPage() {
        return run;
    }

    /** The whole vCPU mapping (kvm_run, then the coalesced ring at the page KVM_CAP_COALESCED_MMIO names). */
    public MemorySegment mapping() {
        return mapping;
    }

    /**
     * KVM_RUN: enters the guest until the next exit and decodes it. EINTR (a kick, or
     * immediate_exit) comes back as {@link VmExit.Interrupted}; EAGAIN is retried.
     */
    public VmExit run() {
        while (true) {
            int r = Libc.ioctlOrErrno(fd, Ioctls.KVM_RUN, 0L);
            if (r >= 0) return run.decode();
            if (r == -Libc.EINTR) return new VmExit.Interrupted();
            if (r != -Libc.EAGAIN) throw new KvmException("KVM_RUN(vCPU " + id + ")", -r);
        }
    }

    public Regs getRegs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.REGS);
            Libc.ioctl(fd, Ioctls.KVM_GET_REGS, s, "KVM_GET_REGS");
            return Regs.read(s);
        }
    }

    public void setRegs(Regs regs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.REGS);
            regs.write(s);
            Libc.ioctl(fd, Ioctls.KVM_SET_REGS, s, "KVM_SET_REGS");
        }
    }

    public Sregs getSregs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.SREGS);
            Libc.ioctl(fd, Ioctls.KVM_GET_SREGS, s, "KVM_GET_SREGS");
            return Sregs.read(s);
        }
    }

    public void setSregs(Sregs sregs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.SREGS);
            sregs.write(s);
            Libc.ioctl(fd, Ioctls.KVM_SET_SREGS, s, "KVM_SET_SREGS");
        }
    }

    /** KVM_GET_FPU: the raw 416-byte {@code kvm_fpu} image. */
    public byte[] getFpu() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.FPU);
            Libc.ioctl(fd, Ioctls.KVM_GET_FPU, s, "KVM_GET_FPU");
            return s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    /** KVM_SET_FPU with x87 and SSE in their reset state (FCW 0x37F, MXCSR 0x1F80). */
    public void setFpuDefaults() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.FPU);
            s.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 128, (short) 0x37F);
            s.set(JAVA_INT, 408, 0x1F80);
            Libc.ioctl(fd, Ioctls.KVM_SET_FPU, s, "KVM_SET_FPU");
        }
    }

    /** KVM_SET_MSRS; every entry must be accepted. */
    public void setMsrs(List<MsrEntry> msrs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = msrBuffer(arena, msrs);
            int done = Libc.ioctl(fd, Ioctls.KVM_SET_MSRS, s, "KVM_SET_MSRS");
            if (done != msrs.size()) {
                throw new IllegalStateException("KVM_SET_MSRS accepted " + done + " of " + msrs.size()
                        + " MSRs; first refused: 0x" + Integer.toHexString(msrs.get(done).index()));
            }
        }
    }

    /** KVM_GET_MSRS for the given indices; returns the entries KVM could read, in order. */
    public List<MsrEntry> getMsrs(List<Integer> indices) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = msrBuffer(arena, indices.stream().map(i -> new MsrEntry(i, 0)).toList());
            int done = Libc.ioctl(fd, Ioctls.KVM_GET_MSRS, s, "KVM_GET_MSRS");
            List<MsrEntry> out = new ArrayList<>(done);
            for (int i = 0; i < done; i++) {
                long off = 8 + i * 16L;
                out.add(new MsrEntry(s.get(JAVA_INT, off), s.get(JAVA_LONG, off + 8)));
            }
            return out;
        }
    }

    private static MemorySegment msrBuffer(Arena arena, List<MsrEntry> msrs) {
        MemorySegment s = arena.allocate(8 + 16L * msrs.size(), 8);
        s.set(JAVA_INT, 0, msrs.size());
        for (int i = 0; i < msrs.size(); i++) {
            long off = 8 + i * 16L;
            s.set(JAVA_INT, off, msrs.get(i).index());
            s.set(JAVA_LONG, off + 8, msrs.get(i).data());
        }
        return s;
    }

    /** KVM_SET_CPUID2: the CPUID leaves the guest will see on this vCPU. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena arena = Arena.ofConfined()) {
            long entry = Structs.CPUID_ENTRY2.byteSize();
            MemorySegment s = arena.allocate(8 + entry * entries.size(), 8);
            s.set(JAVA_INT, 0, entries.size());
            for (int i = 0; i < entries.size(); i++) entries.get(i).write(s, 8 + i * entry);
            Libc.ioctl(fd, Ioctls.KVM_SET_CPUID2, s, "KVM_SET_CPUID2");
        }
    }

    public int getMpState() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(JAVA_INT);
            Libc.ioctl(fd, Ioctls.KVM_GET_MP_STATE, s, "KVM_GET_MP_STATE");
            return s.get(JAVA_INT, 0);
        }
    }

    public void setMpState(int state) {
        try (Arena arena = Arena.ofConfined()) {
            Libc.ioctl(fd, Ioctls.KVM_SET_MP_STATE, arena.allocateFrom(JAVA_INT, state), "KVM_SET_MP_STATE");
        }
    }

    /**
     * Called once on the thread that will run this vCPU: blocks the kick signal on that thread and
     * lets KVM unblock it only inside KVM_RUN, so a kick interrupts KVM_RUN (EINTR) and is never
     * delivered to Java code.
     */
    public void bindToCurrentThread() {
        kicker.bind(fd);
    }

    /** Called by the vCPU thread when it stops running this vCPU: no kick may target it after. */
    public void unbindThread() {
        kicker.unbind();
    }

    /** From any thread: makes the vCPU leave KVM_RUN soon (or not enter it). A no-op once closed. */
    public synchronized void kick() {
        if (!arena.scope().isAlive()) return;
        run.setImmediateExit(true);
        kicker.kick();
    }

    /** On the vCPU thread after {@link VmExit.Interrupted}: clears immediate_exit and pending kicks. */
    public void acknowledgeKick() {
        run.setImmediateExit(false);
        kicker.drain();
    }

    /** Unmaps kvm_run and closes the vCPU; call after the vCPU's thread has ended. */
    @Override
    public synchronized void close() {
        if (!arena.scope().isAlive()) return;
        arena.close();
        kicker.close();
        Libc.close(fd);
    }
}
