package io.actorvm.vmm.actors.debug;

import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Sregs;
import io.actorvm.kvm.VcpuFd;
import io.actorvm.kvm.VmExit;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.mmu.paging.PageFaultException;
import io.actorvm.mmu.paging.PageTableWalker;
import io.actorvm.mmu.paging.PageWalk;

import java.util.List;

/**
 * A debugger's access to a running VM (a gdb stub, a replay session): it learns of debug exits,
 * and while the VM is paused reads and writes vCPU registers and guest memory and sets each vCPU's
 * guest-debug flags (breakpoints, watchpoints, single-step). One per VM; a debugger attaches
 * through {@code Vm.AttachDebugger}.
 *
 * <p>A vCPU that takes a debug exit parks itself at once (so it does not run past a breakpoint)
 * and reports it here; the debugger then pauses the whole VM (all-stop, as gdb expects) before it
 * looks at anything. Registers are only touched while the VM is paused: KVM serializes vCPU
 * ioctls, and a parked vCPU's thread is outside KVM_RUN.
 */
public final class GuestDebugger {
    /** vCPU {@code vcpu} stopped on {@code exit}. */
    public record Stop(int vcpu, VmExit.Debug exit) {}

    /** Hears of debug stops, on the stopping vCPU's thread: must not block. */
    @FunctionalInterface
    public interface Listener {
        void stopped(Stop stop);
    }

    /**
     * Decides, on the vCPU's thread, whether a debug exit stops the guest: a debugger that finds
     * breakpoints by single-stepping (where KVM cannot deliver breakpoint exceptions) lets the
     * steps that reach none go on without parking anything.
     */
    @FunctionalInterface
    public interface StopFilter {
        boolean stops(Stop stop);
    }

    private final List<VcpuFd> vcpus;
    private final GuestMemory memory;
    private volatile Listener listener;
    private volatile StopFilter filter;
    /** What each vCPU's guest-debug state was last set to, to re-arm single-step after a step the filter lets go on. */
    private final int[] controls;
    private final long[][] debugRegs;

    /**
     * Breakpoints planted as a one-byte {@code out dx, al} (0xEE) by a debugger, by virtual
     * address: where KVM never sees a breakpoint exception (nested under QEMU's TCG, int3 is
     * taken as a software interrupt and debug registers are not armed), a port write exits to us
     * there instead, and its rip names the breakpoint. See {@link #acceptExitBreakpoint}.
     */
    private final java.util.Set<Long> exitBreakpoints = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean exitBreakpointsPlanted;

    /** Whether KVM can keep interrupts out of single-steps ({@link io.actorvm.kvm.GuestDebug#BLOCKIRQ}). */
    private final boolean blockIrq;

    public GuestDebugger(List<VcpuFd> vcpus, GuestMemory memory) {
        this(vcpus, memory, 0);
    }

    /** {@code supportedControls}: what {@code KVM_CAP_SET_GUEST_DEBUG2} says this KVM accepts (0: unknown). */
    public GuestDebugger(List<VcpuFd> vcpus, GuestMemory memory, int supportedControls) {
        this.blockIrq = (supportedControls & io.actorvm.kvm.GuestDebug.BLOCKIRQ) != 0;
        this.vcpus = List.copyOf(vcpus);
        this.memory = memory;
        this.controls = new int[vcpus.size()];
        this.debugRegs = new long[vcpus.size()][];
    }

    /** Attaches the debugger that hears of stops (null detaches, and forgets its exit breakpoints). */
    public synchronized void attach(Listener l) {
        listener = l;
        if (l == null) {
            filter = null;
            exitBreakpoints.clear();
            exitBreakpointsPlanted = false;
        }
    }

    /** The debugger planted an exit breakpoint (its 0xEE byte) at virtual address {@code address}. */
    public void addExitBreakpoint(long address) {
        exitBreakpoints.add(address);
        exitBreakpointsPlanted = true;
    }

    /** The debugger took the exit breakpoint at {@code address} out (its original byte is back). */
    public void removeExitBreakpoint(long address) {
        exitBreakpoints.remove(address);
        exitBreakpointsPlanted = !exitBreakpoints.isEmpty();
    }

    /** Whether any exit breakpoint is planted: one volatile read on the port-write exit path. */
    public boolean exitBreakpointsPlanted() {
        return exitBreakpointsPlanted;
    }

    /**
     * A port write exit while exit breakpoints are planted, on the vCPU's thread: the stop when
     * the vCPU's rip is at one of them (KVM leaves rip on an {@code out} that exits to user space
     * until the next KVM_RUN completes it), or null for an ordinary port write. A stop is reported
     * whatever the stop filter says: the vCPU must not run on through a planted byte.
     */
    public Stop acceptExitBreakpoint(int vcpu) {
        if (listener == null) return null;
        long rip = fd(vcpu).getRegs().rip();
        if (!exitBreakpoints.contains(rip)) return null;
        return new Stop(vcpu, new VmExit.Debug(VmExit.Debug.BP, rip, 0, 0));
    }

    /**
     * Attaches {@code l} unless another debugger (a gdb session) is attached: false then. For a
     * short debugging act such as {@link DebugSteps}, which must not take the stops of a gdb session.
     */
    public synchronized boolean attachIfFree(Listener l) {
        if (listener != null) return false;
        listener = l;
        return true;
    }

    /** Detaches {@code l} if it is the attached debugger (and drops the stop filter with it). */
    public synchronized void detach(Listener l) {
        if (listener == l) {
            listener = null;
            filter = null;
        }
    }

    /** Which debug exits stop the guest (null: all of them). */
    public void filter(StopFilter f) {
        filter = f;
    }

    /**
     * A vCPU's debug exit, on its thread: the stop to report when it stops the guest, or null when
     * no debugger is attached (a leftover exit after detaching) or its filter lets the step go on
     * (the vCPU then runs on). The caller parks the vCPU before it {@link #report}s the stop.
     */
    public Stop accept(int vcpu, VmExit.Debug exit) {
        if (listener == null) return null;
        Stop stop = new Stop(vcpu, exit);
        StopFilter f = filter;
        if (f == null || f.stops(stop)) return stop;
        // KVM single-steps only from the rip where KVM_SET_GUEST_DEBUG was last called: set it again here.
        if ((controls[vcpu] & io.actorvm.kvm.GuestDebug.SINGLESTEP) != 0) fd(vcpu).setGuestDebug(controls[vcpu], debugRegs[vcpu]);
        return null;
    }

    /** Tells the debugger of a stop {@link #accept} took, once the vCPU is parked. */
    public void report(Stop stop) {
        Listener l = listener;
        if (l != null) l.stopped(stop);
    }

    public int vcpuCount() {
        return vcpus.size();
    }

    public GuestMemory memory() {
        return memory;
    }

    public Regs regs(int vcpu) {
        return fd(vcpu).getRegs();
    }

    public Sregs sregs(int vcpu) {
        return fd(vcpu).getSregs();
    }

    /** The raw {@code kvm_fpu} image: x87 registers, control words, XMM0-15, MXCSR. */
    public byte[] fpu(int vcpu) {
        return fd(vcpu).getFpu();
    }

    public void setRegs(int vcpu, Regs regs) {
        fd(vcpu).setRegs(regs);
    }

    /**
     * KVM_SET_GUEST_DEBUG on one vCPU (see {@link io.actorvm.kvm.GuestDebug}). Single-steps take no
     * interrupts where KVM can hold them back, as QEMU's gdb stub does by default: otherwise a
     * step lands in whatever interrupt is pending, and stepping to a breakpoint (a timer firing
     * every few milliseconds while each step takes one) could spend all its steps in handlers.
     */
    public void setGuestDebug(int vcpu, int control, long[] debugRegs) {
        if (blockIrq && (control & io.actorvm.kvm.GuestDebug.SINGLESTEP) != 0) control |= io.actorvm.kvm.GuestDebug.BLOCKIRQ;
        fd(vcpu).setGuestDebug(control, debugRegs);
        this.controls[vcpu] = control;
        this.debugRegs[vcpu] = debugRegs == null ? null : debugRegs.clone();
    }

    /** The page-table walker of {@code vcpu}'s paging mode and tables as they are now. */
    public PageTableWalker walker(int vcpu) {
        Sregs s = sregs(vcpu);
        return PageTableWalker.of(memory, s.cr0(), s.cr3(), s.cr4(), s.efer());
    }

    /** {@code length} bytes at a virtual address of {@code vcpu}, across pages; a PageFaultException where it does not map. */
    public byte[] readVirtual(int vcpu, long address, int length) {
        return walker(vcpu).read(address, length);
    }

    /** The guest-physical address {@code virtual} maps to for {@code vcpu}; a PageFaultException where it does not map. */
    public long translate(int vcpu, long virtual) {
        PageWalk w = walker(vcpu).translate(virtual);
        if (w instanceof PageWalk.Translation t) return t.physical();
        throw new PageFaultException((PageWalk.Fault) w);
    }

    private VcpuFd fd(int vcpu) {
        if (vcpu < 0 || vcpu >= vcpus.size()) throw new IllegalArgumentException("no vCPU " + vcpu);
        return vcpus.get(vcpu);
    }
}
