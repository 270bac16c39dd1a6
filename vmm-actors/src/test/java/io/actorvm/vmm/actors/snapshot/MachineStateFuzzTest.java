package io.actorvm.vmm.actors.snapshot;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.kvm.Structs;
import io.actorvm.persistence.SnapshotCorruptException;
import io.actorvm.persistence.proto.StoredVcpuState;
import io.actorvm.persistence.proto.StoredVmState;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vCPU and VM states of a snapshot, hash-valid but hostile: every field of another size than
 * the kernel struct it fills, counts past what KVM takes, random bytes flipped. Decoding either
 * gives a state whose every struct has its exact size, or a one-line {@link SnapshotCorruptException};
 * nothing else escapes. Seeded; a failure names the seed and the step.
 */
class MachineStateFuzzTest {
    static final int STEPS = Integer.getInteger("actorvm.fuzz.steps", 100_000);
    static final long SEED = Long.getLong("actorvm.fuzz.seed", 0x5eed_f00dL);

    @Test
    void hostileVcpuAndVmStatesDecodeToExactSizesOrAreOneLineErrors() {
        SplittableRandom r = new SplittableRandom(SEED);
        StoredVcpuState vcpu = validVcpu(r);
        StoredVmState vm = validVm(r);
        int refused = 0, taken = 0;
        for (int step = 0; step < STEPS; step++) {
            boolean ofVcpu = r.nextBoolean();
            byte[] bytes = ofVcpu ? hostile(r, vcpu).toByteArray() : hostile(r, vm).toByteArray();
            if (r.nextInt(3) == 0 && bytes.length > 0) bytes[r.nextInt(bytes.length)] ^= (byte) (1 << r.nextInt(8));
            try {
                if (ofVcpu) {
                    var s = MachineStateCodec.decode(StoredVcpuState.parseFrom(bytes), List.of(), 0);
                    assertEquals(Structs.FPU.byteSize(), s.fpu().length);
                    assertEquals(Structs.LAPIC_STATE.byteSize(), s.lapic().length);
                    assertTrue(s.xsave() == null || s.xsave().length >= Structs.XSAVE.byteSize());
                    assertTrue(s.vcpuEvents() == null || s.vcpuEvents().length == Structs.VCPU_EVENTS.byteSize());
                    assertTrue(s.debugRegs() == null || s.debugRegs().length == Structs.DEBUGREGS.byteSize());
                    assertTrue(s.msrs().size() <= MachineStateCodec.MAX_MSRS);
                } else {
                    var s = MachineStateCodec.decode(StoredVmState.parseFrom(bytes));
                    for (byte[] chip : s.irqchips()) assertEquals(Structs.IRQCHIP.byteSize(), chip.length);
                    assertEquals(Structs.PIT_STATE2.byteSize(), s.pit().length);
                }
                taken++;
            } catch (SnapshotCorruptException e) {
                assertTrue(!e.getMessage().contains("\n"), e.getMessage());
                refused++;
            } catch (InvalidProtocolBufferException e) {
                refused++; // VmSnapshots reports it as "state does not parse"
            } catch (RuntimeException e) {
                throw new AssertionError("seed 0x%x, step %d: %s state %s threw %s".formatted(SEED, step, ofVcpu ? "vCPU" : "VM",
                        HexFormat.of().formatHex(bytes), e), e);
            }
        }
        System.out.printf("machine state fuzz: %d hostile states, %d refused, %d taken (seed 0x%x)%n", STEPS, refused, taken, SEED);
        assertEquals(STEPS, refused + taken);
        assertTrue(refused > STEPS / 10 && taken > STEPS / 100, "refused " + refused + ", taken " + taken);
    }

    static ByteString bytes(SplittableRandom r, long size) {
        byte[] b = new byte[(int) size];
        r.nextBytes(b);
        return ByteString.copyFrom(b);
    }

    static StoredVcpuState validVcpu(SplittableRandom r) {
        var b = StoredVcpuState.newBuilder().setIndex(0).setSregs(bytes(r, Structs.SREGS.byteSize()))
                .setFpu(bytes(r, Structs.FPU.byteSize())).setXsave(bytes(r, Structs.XSAVE.byteSize())).setXcrs(bytes(r, 12))
                .setLapic(bytes(r, Structs.LAPIC_STATE.byteSize())).setEvents(bytes(r, Structs.VCPU_EVENTS.byteSize()))
                .setDebugregs(bytes(r, Structs.DEBUGREGS.byteSize())).setMpState(0);
        for (int i = 0; i < 18; i++) b.addRegs(r.nextLong());
        for (int i = 0; i < 20; i++) b.addMsrs(StoredVcpuState.Msr.newBuilder().setIndex(0xC000_0080 + i).setData(r.nextLong()));
        return b.build();
    }

    static StoredVmState validVm(SplittableRandom r) {
        return StoredVmState.newBuilder().setIrqchipPicMaster(bytes(r, Structs.IRQCHIP.byteSize()))
                .setIrqchipPicSlave(bytes(r, Structs.IRQCHIP.byteSize())).setIrqchipIoapic(bytes(r, Structs.IRQCHIP.byteSize()))
                .setPit(bytes(r, Structs.PIT_STATE2.byteSize())).setClock(bytes(r, 28)).build();
    }

    /** A size near the right one, zero, or absurd. */
    static long size(SplittableRandom r, long right) {
        return switch (r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> Math.max(0, right + r.nextInt(-3, 4));
            case 2 -> r.nextInt(1 << 16);
            default -> right;
        };
    }

    static StoredVcpuState hostile(SplittableRandom r, StoredVcpuState valid) {
        var b = valid.toBuilder();
        for (int n = 1 + r.nextInt(2); n > 0; n--) {
            switch (r.nextInt(10)) {
                case 0 -> b.setSregs(bytes(r, size(r, Structs.SREGS.byteSize())));
                case 1 -> b.setFpu(bytes(r, size(r, Structs.FPU.byteSize())));
                case 2 -> b.setXsave(bytes(r, size(r, Structs.XSAVE.byteSize())));
                case 3 -> b.setXcrs(bytes(r, size(r, 12)));
                case 4 -> b.setLapic(bytes(r, size(r, Structs.LAPIC_STATE.byteSize())));
                case 5 -> b.setEvents(bytes(r, size(r, Structs.VCPU_EVENTS.byteSize())));
                case 6 -> b.setDebugregs(bytes(r, size(r, Structs.DEBUGREGS.byteSize())));
                case 7 -> { for (int i = r.nextInt(300); i > 0; i--) b.addMsrs(StoredVcpuState.Msr.newBuilder().setIndex(r.nextInt())); }
                case 8 -> { if (r.nextBoolean()) b.addRegs(1); else b.clearRegs(); }
                default -> b.setMpState(r.nextInt());
            }
        }
        return b.build();
    }

    static StoredVmState hostile(SplittableRandom r, StoredVmState valid) {
        var b = valid.toBuilder();
        switch (r.nextInt(5)) {
            case 0 -> b.setIrqchipPicMaster(bytes(r, size(r, Structs.IRQCHIP.byteSize())));
            case 1 -> b.setIrqchipPicSlave(bytes(r, size(r, Structs.IRQCHIP.byteSize())));
            case 2 -> b.setIrqchipIoapic(bytes(r, size(r, Structs.IRQCHIP.byteSize())));
            case 3 -> b.setPit(bytes(r, size(r, Structs.PIT_STATE2.byteSize())));
            default -> b.setClock(bytes(r, size(r, 28)));
        }
        return b.build();
    }
}
