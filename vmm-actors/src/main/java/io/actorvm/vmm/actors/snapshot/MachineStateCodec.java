package io.actorvm.vmm.actors.snapshot;

import com.google.protobuf.ByteString;
import io.actorvm.kvm.ClockData;
import io.actorvm.kvm.CpuidEntry;
import io.actorvm.kvm.MsrEntry;
import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Sregs;
import io.actorvm.kvm.Structs;
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

    static VcpuState decode(StoredVcpuState p, List<CpuidEntry> cpuid, int tscKhz) {
        if (p.getRegsCount() != 18) throw new SnapshotCorruptException("vCPU " + p.getIndex() + " state has " + p.getRegsCount() + " registers, not 18");
        long[] v = p.getRegsList().stream().mapToLong(Long::longValue).toArray();
        Regs regs = new Regs(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17]);
        if (p.getSregs().size() != Structs.SREGS.byteSize()) throw new SnapshotCorruptException("vCPU " + p.getIndex() + " sregs have a bad size");
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

    static StoredVmState encode(VmState s) {
        ClockData c = s.clock();
        ByteBuffer clock = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(c.clock()).putInt(c.flags()).putLong(c.realtime()).putLong(c.hostTsc());
        return StoredVmState.newBuilder()
                .setIrqchipPicMaster(ByteString.copyFrom(s.irqchip(0))).setIrqchipPicSlave(ByteString.copyFrom(s.irqchip(1)))
                .setIrqchipIoapic(ByteString.copyFrom(s.irqchip(2))).setPit(ByteString.copyFrom(s.pit()))
                .setClock(ByteString.copyFrom(clock.array())).build();
    }

    static VmState decode(StoredVmState p) {
        ByteBuffer c = ByteBuffer.wrap(p.getClock().toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        if (c.remaining() != 28) throw new SnapshotCorruptException("VM state: kvmclock has a bad size");
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
