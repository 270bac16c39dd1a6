package io.actorvm.kvm;

import io.actorvm.libc.Libc;
import io.actorvm.libc.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A vCPU handle. {@link #run()} and the register ioctls belong to the vCPU's own thread (KVM
 * serialises vCPU ioctls; from another thread they block while the vCPU is in KVM_RUN).
 * {@link #kick()} is the one call meant for other threads.
 *
 * <p>State save and restore follows rust-vmm's kvm-ioctls: one method per ioctl, opaque kernel
 * structs as byte arrays of their exact size, plus {@link #captureState} / {@link #restoreState}
 * which call them in the order KVM needs.
 */
public final class VcpuFd implements AutoCloseable {
    /** KVM_MP_STATE_RUNNABLE / UNINITIALIZED / INIT_RECEIVED / HALTED / SIPI_RECEIVED. */
    public static final int MP_RUNNABLE = 0, MP_UNINITIALIZED = 1, MP_INIT_RECEIVED = 2, MP_HALTED = 3,
            MP_SIPI_RECEIVED = 4;
    /** The most MSRs one KVM_GET_MSRS takes: KVM answers E2BIG from MAX_IO_MSRS (256) up. */
    static final int MSRS_PER_IOCTL = 255;
    /** KVM_MAX_XCRS. */
    public static final int XCRS_MAX = 16;

    private final int id;
    private final int fd;
    private final KvmRun run;
    private final Arena arena;
    private final MemorySegment mapping;
    private final Kicker kicker = new Kicker();
    private final Features features;

    /**
     * What the VM's KVM offers for vCPU state, asked once per VM (KVM_CHECK_EXTENSION is a VM or
     * system ioctl, not a vCPU one).
     *
     * @param xsaveSize  bytes of struct kvm_xsave: KVM_CAP_XSAVE2's answer, 4096 with only
     *                   KVM_CAP_XSAVE, 0 without XSAVE
     * @param xsave2     KVM_GET_XSAVE2 is available
     */
    record Features(int xsaveSize, boolean xsave2, boolean xcrs, boolean vcpuEvents, boolean debugRegs,
                    boolean getTscKhz, boolean tscControl) {}

    VcpuFd(int id, int fd, Arena arena, MemorySegment mapping, Features features) {
        this.id = id;
        this.fd = fd;
        this.arena = arena;
        this.mapping = mapping;
        this.run = new KvmRun(mapping);
        this.features = features;
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
            if (r != -Libc.EAGAIN) throw new SyscallException("KVM_RUN(vCPU " + id + ")", -r);
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
            return s.toArray(JAVA_BYTE);
        }
    }

    /** KVM_SET_FPU: a raw {@code kvm_fpu} image (416 bytes), as {@link #getFpu()} returns it. */
    public void setFpu(byte[] fpu) {
        setRaw(Ioctls.KVM_SET_FPU, Structs.FPU.byteSize(), fpu, "KVM_SET_FPU");
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
            MemorySegment s = MsrEntry.toKvmMsrs(arena, msrs);
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
            MemorySegment s = MsrEntry.toKvmMsrs(arena, indices.stream().map(i -> new MsrEntry(i, 0)).toList());
            return MsrEntry.fromKvmMsrs(s, Libc.ioctl(fd, Ioctls.KVM_GET_MSRS, s, "KVM_GET_MSRS"));
        }
    }

    /** KVM_SET_CPUID2: the CPUID leaves the guest will see on this vCPU. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena arena = Arena.ofConfined()) {
            Libc.ioctl(fd, Ioctls.KVM_SET_CPUID2, CpuidEntry.toKvmCpuid2(arena, entries), "KVM_SET_CPUID2");
        }
    }

    /**
     * KVM_GET_CPUID2: the CPUID leaves set on this vCPU with KVM_SET_CPUID2 (empty if none were).
     * Linux 6.1 does not write the count back on success ({@code nent} stays what the caller
     * offered) nor hand it out on E2BIG, so the reply is read with room for the most KVM allows
     * and trailing all-zero entries, which no real leaf is (leaf 0 names the highest leaf), are
     * dropped.
     */
    public List<CpuidEntry> getCpuid() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = CpuidEntry.kvmCpuid2(arena);
            Libc.ioctl(fd, Ioctls.KVM_GET_CPUID2, s, "KVM_GET_CPUID2");
            List<CpuidEntry> leaves = new ArrayList<>(CpuidEntry.fromKvmCpuid2(s, s.get(JAVA_INT, 0)));
            CpuidEntry none = new CpuidEntry(0, 0, 0, 0, 0, 0, 0);
            while (!leaves.isEmpty() && leaves.getLast().equals(none)) leaves.removeLast();
            return leaves;
        }
    }

    /**
     * Of {@code candidates}, the MSRs KVM_GET_MSRS can read on this vCPU, in order. KVM_GET_MSRS
     * stops at the first index it refuses, and KVM_GET_MSR_INDEX_LIST may name MSRs that depend on
     * the vCPU's CPUID, so a snapshot should filter the list once (after KVM_SET_CPUID2) with this.
     * Costs one ioctl per refused candidate, and one more: each read asks for every candidate
     * left (255 at most), keeps the ones read before the first refusal and goes on after it.
     */
    public List<Integer> readableMsrs(List<Integer> candidates) {
        List<Integer> out = new ArrayList<>();
        int from = 0;
        while (from < candidates.size()) {
            int to = Math.min(candidates.size(), from + MSRS_PER_IOCTL);
            int read = getMsrs(candidates.subList(from, to)).size();
            out.addAll(candidates.subList(from, from + read));
            // The one at from + read was refused; a chunk read whole ends before it.
            from += read == to - from ? read : read + 1;
        }
        return out;
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
     * KVM_GET_XSAVE, or KVM_GET_XSAVE2 where KVM_CAP_XSAVE2 exists: the raw {@code kvm_xsave} image,
     * {@link #xsaveSize()} bytes (4096 unless dynamic features such as AMX are enabled). The first
     * 512 bytes are the FXSAVE legacy area (FCW at 0, MXCSR at 24, ST0 at 32, XMM0 at 160), the XSAVE
     * header (XSTATE_BV) at 512.
     */
    public byte[] getXsave() {
        if (features.xsave2()) return getRaw(Ioctls.KVM_GET_XSAVE2, features.xsaveSize(), "KVM_GET_XSAVE2");
        return getRaw(Ioctls.KVM_GET_XSAVE, Structs.XSAVE.byteSize(), "KVM_GET_XSAVE");
    }

    /**
     * KVM_SET_XSAVE. The kernel reads {@link #xsaveSize()} bytes: a shorter image (at least 4096
     * bytes) is zero-extended, a longer one is refused.
     */
    public void setXsave(byte[] xsave) {
        long size = Math.max(xsaveSize(), Structs.XSAVE.byteSize());
        if (xsave.length < Structs.XSAVE.byteSize() || xsave.length > size) {
            throw new IllegalArgumentException("kvm_xsave image of " + xsave.length + " bytes; this VM takes "
                    + Structs.XSAVE.byteSize() + " to " + size);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(size, 8);
            MemorySegment.copy(xsave, 0, s, JAVA_BYTE, 0, xsave.length);
            Libc.ioctl(fd, Ioctls.KVM_SET_XSAVE, s, "KVM_SET_XSAVE");
        }
    }

    /** Bytes of this VM's {@code kvm_xsave}: KVM_CAP_XSAVE2's answer, 4096 with plain XSAVE, 0 without. */
    public int xsaveSize() {
        return features.xsaveSize();
    }

    /** KVM_GET_XCRS: the extended control registers (XCR0). */
    public List<Xcr> getXcrs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.XCRS);
            Libc.ioctl(fd, Ioctls.KVM_GET_XCRS, s, "KVM_GET_XCRS");
            return Xcr.fromKvmXcrs(s);
        }
    }

    /** KVM_SET_XCRS (at most 16). XCR0 must be allowed by the vCPU's CPUID leaf 0xD. */
    public void setXcrs(List<Xcr> xcrs) {
        if (xcrs.size() > XCRS_MAX) throw new IllegalArgumentException(xcrs.size() + " XCRs, KVM takes " + XCRS_MAX);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.XCRS);
            Xcr.toKvmXcrs(s, xcrs);
            Libc.ioctl(fd, Ioctls.KVM_SET_XCRS, s, "KVM_SET_XCRS");
        }
    }

    /** KVM_GET_LAPIC: the in-kernel LAPIC's register page, 1024 bytes (see {@link Lapic}). */
    public byte[] getLapic() {
        return getRaw(Ioctls.KVM_GET_LAPIC, Structs.LAPIC_STATE.byteSize(), "KVM_GET_LAPIC");
    }

    /**
     * KVM_SET_LAPIC. Set the APIC base (KVM_SET_SREGS) first: the LAPIC's mode (xAPIC/x2APIC,
     * enabled) comes from it and decides how the ID register is read. Restarts the LAPIC timer from
     * its initial count.
     */
    public void setLapic(byte[] lapic) {
        setRaw(Ioctls.KVM_SET_LAPIC, Structs.LAPIC_STATE.byteSize(), lapic, "KVM_SET_LAPIC");
    }

    /**
     * KVM_GET_VCPU_EVENTS: pending and injected exception, interrupt and NMI, interrupt shadow,
     * SIPI vector, SMM state: 64 bytes, layout {@link Structs#VCPU_EVENTS}. The {@code flags} KVM
     * returns mark the fields that are valid, so the image can be given back to
     * {@link #setVcpuEvents} as it is.
     */
    public byte[] getVcpuEvents() {
        return getRaw(Ioctls.KVM_GET_VCPU_EVENTS, Structs.VCPU_EVENTS.byteSize(), "KVM_GET_VCPU_EVENTS");
    }

    /**
     * KVM_SET_VCPU_EVENTS. Set it after KVM_SET_REGS and KVM_SET_SREGS: KVM_SET_REGS drops a
     * pending exception and KVM_SET_SREGS queues the interrupt in its bitmap, which this overrides.
     * Not safe while other vCPUs of the VM run (api.rst).
     */
    public void setVcpuEvents(byte[] events) {
        setRaw(Ioctls.KVM_SET_VCPU_EVENTS, Structs.VCPU_EVENTS.byteSize(), events, "KVM_SET_VCPU_EVENTS");
    }

    /**
     * KVM_SET_GUEST_DEBUG: {@code control} is a {@link GuestDebug} set of flags (0 turns debugging
     * off); with {@link GuestDebug#USE_HW_BP}, {@code debugRegs} holds DR0-3 and DR7 at index 7
     * (null: all zero). Call it while the vCPU is outside KVM_RUN.
     */
    public void setGuestDebug(int control, long[] debugRegs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Structs.GUEST_DEBUG);
            s.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, control);
            if (debugRegs != null) {
                if (debugRegs.length != 8) throw new IllegalArgumentException("debug registers are DR0-7, not " + debugRegs.length + " values");
                for (int i = 0; i < 8; i++) s.set(java.lang.foreign.ValueLayout.JAVA_LONG, 8 + i * 8L, debugRegs[i]);
            }
            Libc.ioctl(fd, Ioctls.KVM_SET_GUEST_DEBUG, s, "KVM_SET_GUEST_DEBUG");
        }
    }

    /** KVM_GET_DEBUGREGS: DR0-3 at 0-31, DR6 at 32, DR7 at 40 (128 bytes, {@link Structs#DEBUGREGS}). */
    public byte[] getDebugRegs() {
        return getRaw(Ioctls.KVM_GET_DEBUGREGS, Structs.DEBUGREGS.byteSize(), "KVM_GET_DEBUGREGS");
    }

    /** KVM_SET_DEBUGREGS; {@code flags} (offset 48) must be 0. */
    public void setDebugRegs(byte[] debugRegs) {
        setRaw(Ioctls.KVM_SET_DEBUGREGS, Structs.DEBUGREGS.byteSize(), debugRegs, "KVM_SET_DEBUGREGS");
    }

    /** KVM_GET_TSC_KHZ (KVM_CAP_GET_TSC_KHZ): the guest's TSC frequency; fails with EIO on an unstable host TSC. */
    public int getTscKhz() {
        return Libc.ioctl(fd, Ioctls.KVM_GET_TSC_KHZ, 0L, "KVM_GET_TSC_KHZ");
    }

    /** KVM_SET_TSC_KHZ (KVM_CAP_TSC_CONTROL): the guest's TSC frequency; set it before writing IA32_TSC. */
    public void setTscKhz(int khz) {
        Libc.ioctl(fd, Ioctls.KVM_SET_TSC_KHZ, Integer.toUnsignedLong(khz), "KVM_SET_TSC_KHZ(" + khz + ")");
    }

    /**
     * Reads the whole vCPU state, on the vCPU's thread, with the vCPU out of KVM_RUN and every other
     * vCPU of the VM stopped too; see {@link VcpuStateSequence#capture} for the order and its rules.
     *
     * @param msrIndices the MSRs to save; every one must be readable (see {@link #readableMsrs})
     * @throws IllegalStateException if KVM refuses one of {@code msrIndices}
     */
    public VcpuState captureState(List<Integer> msrIndices) {
        return VcpuStateSequence.capture(this, features, msrIndices);
    }

    /**
     * Writes a captured state into this vCPU (normally a fresh one of a fresh VM with the same
     * memory layout and in-kernel devices), on its thread, before its first KVM_RUN; see
     * {@link VcpuStateSequence#restore} for the order.
     *
     * @throws IllegalStateException if KVM refuses one of the MSRs
     */
    public void restoreState(VcpuState state) {
        VcpuStateSequence.restore(this, features, state);
    }

    private byte[] getRaw(long request, long size, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(size, 8);
            Libc.ioctl(fd, request, s, what);
            return s.toArray(JAVA_BYTE);
        }
    }

    private void setRaw(long request, long size, byte[] data, String what) {
        if (data.length != size) {
            throw new IllegalArgumentException(what + " takes " + size + " bytes, got " + data.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(size, 8);
            MemorySegment.copy(data, 0, s, JAVA_BYTE, 0, data.length);
            Libc.ioctl(fd, request, s, what);
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
