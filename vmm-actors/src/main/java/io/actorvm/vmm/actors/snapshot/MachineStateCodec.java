package io.actorvm.vmm.actors.snapshot;

import com.google.protobuf.ByteString;
import io.actorvm.kvm.ClockData;
import io.actorvm.kvm.CpuidEntry;
import io.actorvm.kvm.MsrEntry;
import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Sregs;
import io.actorvm.kvm.Structs;
import io.actorvm.kvm.VcpuFd;
import io.actorvm.kvm.VcpuState;
import io.actorvm.kvm.VmState;
import io.actorvm.kvm.Xcr;
import io.actorvm.persistence.SnapshotCorruptException;
import io.actorvm.persistence.proto.StoredVcpuState;
import io.actorvm.persistence.proto.StoredVmState;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * KVM vCPU and VM state to and from their protobuf form (persistence/src/main/proto/actorvm/
 * machine_state.proto). Opaque kernel structs travel as bytes; CPUID is not stored, it is rebuilt
 * from the host and the VM's configuration on restore, as at creation.
 */
final class MachineStateCodec {
    private MachineStateCodec() {}

    static StoredVcpuState encode(int index, VcpuState s) {
        var b = StoredVcpuState.newBuilder().setIndex(index);
        Regs r = s.regs();
        for (long v : new long[] {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(),
                r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()}) {
            b.addRegs(v);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sregs = arena.allocate(Structs.SREGS);
            s.sregs().write(sregs);
            b.setSregs(ByteString.copyFrom(sregs.toArray(JAVA_BYTE)));
        }
        ByteBuffer xcrs = ByteBuffer.allocate(12 * s.xcrs().size()).order(ByteOrder.LITTLE_ENDIAN);
        for (Xcr x : s.xcrs()) xcrs.putInt(x.index()).putLong(x.value());
        b.setFpu(ByteString.copyFrom(s.fpu())).setXsave(bytes(s.xsave())).setXcrs(ByteString.copyFrom(xcrs.array()))
                .setLapic(ByteString.copyFrom(s.lapic())).setEvents(bytes(s.vcpuEvents())).setDebugregs(bytes(s.debugRegs()))
                .setMpState(s.mpState());
        for (MsrEntry m : s.msrs()) b.addMsrs(StoredVcpuState.Msr.newBuilder().setIndex(m.index()).setData(m.data()));
        return b.build();
    }

    /** KVM reads at most this many MSRs per KVM_SET_MSRS (the kernel's MAX_IO_MSRS). */
    static final int MAX_MSRS = 256;

    /** The largest kvm_xsave image accepted: KVM_CAP_XSAVE2 answers about 11 KiB with AMX. */
    static final int MAX_XSAVE_BYTES = 1 << 20;

    /**
     * The state of one vCPU, every field checked against the size of the kernel struct it fills:
     * a field of another size is a {@link SnapshotCorruptException} naming the vCPU and the field,
     * never an out-of-bounds copy later.
     */
    static VcpuState decode(StoredVcpuState p, List<CpuidEntry> cpuid, int tscKhz) {
        String vcpu = "vCPU " + p.getIndex();
        if (p.getRegsCount() != 18) throw new SnapshotCorruptException(vcpu + " state has " + p.getRegsCount() + " registers, not 18");
        long[] v = p.getRegsList().stream().mapToLong(Long::longValue).toArray();
        Regs regs = new Regs(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17]);
        requireSize(vcpu, "sregs", p.getSregs(), Structs.SREGS.byteSize());
        requireSize(vcpu, "fpu", p.getFpu(), Structs.FPU.byteSize());
        requireSize(vcpu, "lapic", p.getLapic(), Structs.LAPIC_STATE.byteSize());
        if (!p.getEvents().isEmpty()) requireSize(vcpu, "vcpu events", p.getEvents(), Structs.VCPU_EVENTS.byteSize());
        if (!p.getDebugregs().isEmpty()) requireSize(vcpu, "debug registers", p.getDebugregs(), Structs.DEBUGREGS.byteSize());
        if (!p.getXsave().isEmpty() && (p.getXsave().size() < Structs.XSAVE.byteSize() || p.getXsave().size() > MAX_XSAVE_BYTES)) {
            throw new SnapshotCorruptException(vcpu + " xsave image has " + p.getXsave().size() + " bytes (from "
                    + Structs.XSAVE.byteSize() + " to " + MAX_XSAVE_BYTES + ")");
        }
        if (p.getXcrs().size() % 12 != 0 || p.getXcrs().size() / 12 > VcpuFd.XCRS_MAX) {
            throw new SnapshotCorruptException(vcpu + " XCRs take " + p.getXcrs().size() + " bytes (12 per XCR, at most "
                    + VcpuFd.XCRS_MAX + ")");
        }
        if (p.getMsrsCount() > MAX_MSRS) throw new SnapshotCorruptException(vcpu + " has " + p.getMsrsCount() + " MSRs (at most " + MAX_MSRS + ")");
        Sregs sregs;
        try (Arena arena = Arena.ofConfined()) { // struct fields are read with their natural alignment
            MemorySegment aligned = arena.allocate(Structs.SREGS);
            MemorySegment.copy(MemorySegment.ofArray(p.getSregs().toByteArray()), 0, aligned, 0, aligned.byteSize());
            sregs = Sregs.read(aligned);
        }
        List<Xcr> xcrs = new ArrayList<>();
        ByteBuffer x = ByteBuffer.wrap(p.getXcrs().toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        while (x.remaining() >= 12) xcrs.add(new Xcr(x.getInt(), x.getLong()));
        List<MsrEntry> msrs = p.getMsrsList().stream().map(m -> new MsrEntry(m.getIndex(), m.getData())).toList();
        return new VcpuState(cpuid, p.getMpState(), regs, sregs, p.getFpu().toByteArray(), orNull(p.getXsave()), xcrs,
                p.getLapic().toByteArray(), msrs, orNull(p.getEvents()), orNull(p.getDebugregs()), tscKhz);
    }

    private static void requireSize(String owner, String field, ByteString value, long size) {
        if (value.size() != size) {
            throw new SnapshotCorruptException(owner + " " + field + " have " + value.size() + " bytes, not " + size);
        }
    }

    static StoredVmState encode(VmState s) {
        ClockData c = s.clock();
        ByteBuffer clock = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(c.clock()).putInt(c.flags()).putLong(c.realtime()).putLong(c.hostTsc());
        return StoredVmState.newBuilder()
                .setIrqchipPicMaster(ByteString.copyFrom(s.irqchip(0))).setIrqchipPicSlave(ByteString.copyFrom(s.irqchip(1)))
                .setIrqchipIoapic(ByteString.copyFrom(s.irqchip(2))).setPit(ByteString.copyFrom(s.pit()))
                .setClock(ByteString.copyFrom(clock.array())).build();
    }

    /** The VM-wide state, each kernel struct checked for its size (see {@link #decode(StoredVcpuState, List, int)}). */
    static VmState decode(StoredVmState p) {
        requireSize("VM state:", "kvmclock data", p.getClock(), 28);
        requireSize("VM state:", "PIC master registers", p.getIrqchipPicMaster(), Structs.IRQCHIP.byteSize());
        requireSize("VM state:", "PIC slave registers", p.getIrqchipPicSlave(), Structs.IRQCHIP.byteSize());
        requireSize("VM state:", "IOAPIC registers", p.getIrqchipIoapic(), Structs.IRQCHIP.byteSize());
        requireSize("VM state:", "PIT registers", p.getPit(), Structs.PIT_STATE2.byteSize());
        ByteBuffer c = ByteBuffer.wrap(p.getClock().toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        ClockData clock = new ClockData(c.getLong(), c.getInt(), c.getLong(), c.getLong());
        return new VmState(List.of(p.getIrqchipPicMaster().toByteArray(), p.getIrqchipPicSlave().toByteArray(),
                p.getIrqchipIoapic().toByteArray()), p.getPit().toByteArray(), clock);
    }

    private static ByteString bytes(byte[] b) {
        return b == null ? ByteString.EMPTY : ByteString.copyFrom(b);
    }

    private static byte[] orNull(ByteString b) {
        return b.isEmpty() ? null : b.toByteArray();
    }
}
