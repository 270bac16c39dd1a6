package io.actorvm.kvm;

import io.actorvm.libc.SyscallException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The state save/restore ioctls against the real /dev/kvm: a VM whose vCPU and device state was
 * changed through every setter is captured, restored into a second, fresh VM, captured again and
 * compared, and the restored vCPUs run guest code. Also the dirty-page log. Skipped without a usable
 * /dev/kvm.
 *
 * <p>What legitimately differs between the captured and the restored-then-recaptured state, and is
 * therefore not compared exactly: IA32_TSC (counts on; checked to be at least the saved value),
 * kvmclock (likewise), and each PIT channel's {@code count_load_time} (KVM_SET_PIT2 reloads the
 * counters at the host's current time).
 */
class KvmSnapshotTest {
    private static final Path DEV = Path.of("/dev/kvm");
    private static final long RAM_SIZE = 0x10000;
    private static final int IA32_TSC = 0x10, IA32_MISC_ENABLE = 0x1A0, IA32_PAT = 0x277, IA32_MTRR_DEF_TYPE = 0x2FF,
            STAR = 0xC0000081, LSTAR = 0xC0000082, KERNEL_GS_BASE = 0xC0000102, TSC_AUX = 0xC0000103,
            SYSENTER_EIP = 0x176;
    /** Guest code, real mode, CS base 0. vCPU 0: mov $0x42,%al; out %al,$0x10; hlt. */
    private static final byte[] CODE_VCPU0 = {(byte) 0xB0, 0x42, (byte) 0xE6, 0x10, (byte) 0xF4};
    /** vCPU 1: mov %bl,%al; out %al,$0x11; hlt: the value comes from the restored RBX. */
    private static final byte[] CODE_VCPU1 = {(byte) 0x88, (byte) 0xD8, (byte) 0xE6, 0x11, (byte) 0xF4};
    private static final long CODE0 = 0x1000, CODE1 = 0x1010;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private Kvm kvm;

    @BeforeEach
    void open() {
        KvmAvailable.assume();
        kvm = Kvm.open();
        toClose.add(kvm);
    }

    @AfterEach
    void close() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) toClose.get(i).close();
    }

    private <T extends AutoCloseable> T closeLater(T resource) {
        toClose.add(resource);
        return resource;
    }

    /** A VM as actorvm builds one: in-kernel irqchip and PIT, RAM at 0, vCPUs with the host's CPUID. */
    private record Machine(VmFd vm, List<VcpuFd> vcpus, MemorySegment ram) {}

    private Machine machine(int vcpuCount) {
        Arena arena = closeLater(Arena.ofShared()); // closed after the VM and its vCPUs
        MemorySegment ram = arena.allocate(RAM_SIZE, 4096);
        VmFd vm = closeLater(kvm.createVm());
        vm.setTssAddress(0xFFFB_D000L);
        vm.createIrqchip();
        vm.createPit2();
        vm.setUserMemoryRegion(0, 0, 0, RAM_SIZE, ram.address());
        List<CpuidEntry> cpuid = kvm.supportedCpuid();
        List<VcpuFd> vcpus = new ArrayList<>();
        for (int id = 0; id < vcpuCount; id++) {
            VcpuFd vcpu = closeLater(vm.createVcpu(id));
            int apicId = id;
            vcpu.setCpuid(cpuid.stream()
                    .map(e -> e.function() == 1 ? e.withEbx((e.ebx() & 0x00FF_FFFF) | (apicId << 24)) : e).toList());
            vcpus.add(vcpu);
        }
        return new Machine(vm, vcpus, ram);
    }

    /** Real mode with CS base 0 (instead of the reset vector's 0xFFFF0000). */
    private static Sregs realModeAtZero(Sregs s, int variant) {
        Segment c = s.cs();
        Segment cs = new Segment(0, c.limit(), 0, c.type(), c.present(), c.dpl(), c.db(), c.s(), c.l(), c.g(), c.avl(),
                c.unusable());
        return new Sregs(cs, s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(),
                new DescriptorTable(0x2000 + variant * 0x100L, 0x27), new DescriptorTable(0x3000, 0x3FF),
                s.cr0(), 0xDEAD_0000L + variant, s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap());
    }

    /** The MSRs the test saves: KVM's list, MTRR default type (actorvm's boot MSRs set it) and TSC_AUX, where readable. */
    private List<Integer> msrsToSave(VcpuFd vcpu) {
        List<Integer> candidates = new ArrayList<>(kvm.getMsrIndexList());
        for (int extra : new int[] {IA32_MTRR_DEF_TYPE, TSC_AUX}) {
            if (!candidates.contains(extra)) candidates.add(extra);
        }
        return vcpu.readableMsrs(candidates);
    }

    private static long u64(byte[] b, int offset) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(offset);
    }

    private static byte[] putU64(byte[] b, int offset, long value) {
        byte[] copy = b.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putLong(offset, value);
        return copy;
    }

    private static byte[] putU32(byte[] b, int offset, int value) {
        byte[] copy = b.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
        return copy;
    }

    private static byte[] putU8(byte[] b, int offset, int value) {
        byte[] copy = b.clone();
        copy[offset] = (byte) value;
        return copy;
    }

    // Offsets in the images (checked against C by KvmLayoutTest through Structs).
    private static final int XSAVE_XMM0 = 160, XSAVE_XSTATE_BV = 512;
    private static final int EVENTS_NMI_MASKED = (int) Structs.VCPU_EVENTS.byteOffset(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("nmi"),
            java.lang.foreign.MemoryLayout.PathElement.groupElement("masked"));
    private static final int IRQCHIP_STATE = 8;
    private static final int PIC_IMR = IRQCHIP_STATE + 2, PIC_IRQ_BASE = IRQCHIP_STATE + 5;
    private static final int IOAPIC_REDIRTBL = IRQCHIP_STATE + 24;
    private static final int PIT_CHANNEL = 24, PIT_COUNT = 0, PIT_RW_MODE = 12, PIT_MODE = 13, PIT_LOAD_TIME = 16;

    /** Changes every part of a vCPU's state away from its reset value, through the single-ioctl setters. */
    private void changeVcpuState(VcpuFd vcpu, int i) {
        vcpu.setSregs(realModeAtZero(vcpu.getSregs(), i));
        vcpu.setRegs(new Regs(0, i == 0 ? 0x1111 : 0x43, 0x2222 + i, 0x3333, 0x4444, 0x5555, 0x8000 - i * 0x100, 0x6666,
                8, 9, 10, 11, 12, 13, 14, 15, i == 0 ? CODE0 : CODE1, Regs.RFLAGS_RESERVED));

        byte[] xsave = vcpu.getXsave();
        for (int k = 0; k < 16; k++) xsave[XSAVE_XMM0 + k] = (byte) (0xA0 + 16 * i + k);
        xsave = putU64(xsave, XSAVE_XSTATE_BV, u64(xsave, XSAVE_XSTATE_BV) | 0x3); // x87 and SSE state in use
        vcpu.setXsave(xsave);

        vcpu.setXcrs(List.of(new Xcr(Xcr.XCR0, 0x3))); // x87 | SSE: allowed by the host CPUID set above

        byte[] lapic = Lapic.withRegister(vcpu.getLapic(), Lapic.TPR, 0x20 + 0x10 * i);
        vcpu.setLapic(Lapic.withRegister(lapic, Lapic.SVR, 0x1FF)); // software-enabled, spurious vector 0xFF

        List<MsrEntry> msrs = new ArrayList<>(List.of(
                new MsrEntry(IA32_MISC_ENABLE, 0x1801), new MsrEntry(IA32_PAT, 0x0007_0106_0007_0106L),
                new MsrEntry(IA32_MTRR_DEF_TYPE, 0xC06), new MsrEntry(STAR, 0x0023_0010_0000_0000L),
                new MsrEntry(LSTAR, 0xFFFF_FFFF_8100_0000L + i), new MsrEntry(KERNEL_GS_BASE, 0xFFFF_8880_0000_0000L + i),
                new MsrEntry(SYSENTER_EIP, 0xFFFF_FFFF_8100_1000L + i)));
        if (vcpu.readableMsrs(List.of(TSC_AUX)).size() == 1) msrs.add(new MsrEntry(TSC_AUX, 0x1234 + i));
        vcpu.setMsrs(msrs);

        byte[] events = vcpu.getVcpuEvents();
        vcpu.setVcpuEvents(putU8(events, EVENTS_NMI_MASKED, 1));

        byte[] dr = vcpu.getDebugRegs();
        for (int k = 0; k < 4; k++) dr = putU64(dr, 8 * k, 0x10_0000L * (k + 1) + i);
        vcpu.setDebugRegs(dr);

        if (i == 1) vcpu.setMpState(VcpuFd.MP_RUNNABLE); // the AP starts UNINITIALIZED
    }

    private static void changeVmState(VmFd vm) {
        byte[] master = vm.getIrqchip(VmFd.IRQCHIP_PIC_MASTER);
        vm.setIrqchip(VmFd.IRQCHIP_PIC_MASTER, putU8(putU8(master, PIC_IMR, 0xFB), PIC_IRQ_BASE, 0x20));
        byte[] slave = vm.getIrqchip(VmFd.IRQCHIP_PIC_SLAVE);
        vm.setIrqchip(VmFd.IRQCHIP_PIC_SLAVE, putU8(putU8(slave, PIC_IMR, 0xFF), PIC_IRQ_BASE, 0x28));
        byte[] ioapic = vm.getIrqchip(VmFd.IRQCHIP_IOAPIC);
        ioapic = putU64(ioapic, IOAPIC_REDIRTBL + 4 * 8, 0x0000_0000_0001_0034L);  // pin 4: vector 0x34, masked
        ioapic = putU64(ioapic, IOAPIC_REDIRTBL + 5 * 8, 0x0100_0000_0001_0035L);  // pin 5: vector 0x35 to APIC 1, masked
        vm.setIrqchip(VmFd.IRQCHIP_IOAPIC, ioapic);
        // PIT channel 2 (speaker, gate low, no timer): channel 0 is left unprogrammed so no IRQ 0 fires.
        byte[] pit = vm.getPit2();
        pit = putU32(pit, 2 * PIT_CHANNEL + PIT_COUNT, 0x1234);
        pit = putU8(putU8(pit, 2 * PIT_CHANNEL + PIT_RW_MODE, 3), 2 * PIT_CHANNEL + PIT_MODE, 3);
        vm.setPit2(pit);
        vm.setClock(ClockData.of(10_000_000_000L));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void stateRestoredIntoAFreshVmIsTheSameAndRuns() throws Exception {
        Machine first = machine(2);
        MemorySegment.copy(CODE_VCPU0, 0, first.ram(), JAVA_BYTE, CODE0, CODE_VCPU0.length);
        MemorySegment.copy(CODE_VCPU1, 0, first.ram(), JAVA_BYTE, CODE1, CODE_VCPU1.length);
        for (int i = 0; i < 2; i++) changeVcpuState(first.vcpus().get(i), i);
        changeVmState(first.vm());

        List<Integer> msrIndices = msrsToSave(first.vcpus().get(0));
        assertTrue(msrIndices.containsAll(List.of(IA32_TSC, IA32_MISC_ENABLE, IA32_PAT, IA32_MTRR_DEF_TYPE, LSTAR)),
                "MSRs to save: " + hex(msrIndices));
        VmState vmSaved = first.vm().captureState();
        List<VcpuState> saved = first.vcpus().stream().map(v -> v.captureState(msrIndices)).toList();

        // The capture holds what the setters wrote.
        assertEquals(0x20, Lapic.register(saved.get(0).lapic(), Lapic.TPR));
        assertEquals(0x30, Lapic.register(saved.get(1).lapic(), Lapic.TPR));
        assertEquals(VcpuFd.MP_RUNNABLE, saved.get(1).mpState());
        assertEquals(List.of(new Xcr(Xcr.XCR0, 0x3)), saved.get(0).xcrs());
        assertEquals(0xA0, saved.get(0).xsave()[XSAVE_XMM0] & 0xFF);
        assertEquals(0xB0, saved.get(1).xsave()[XSAVE_XMM0] & 0xFF);
        assertEquals(0x20_0001L, u64(saved.get(1).debugRegs(), 8));
        assertEquals(1, saved.get(0).vcpuEvents()[EVENTS_NMI_MASKED]);
        assertEquals(0xFFFF_FFFF_8100_0001L, saved.get(1).msr(LSTAR).orElseThrow());
        assertEquals(0x1801L, saved.get(0).msr(IA32_MISC_ENABLE).orElseThrow());
        assertEquals(0xC06L, saved.get(0).msr(IA32_MTRR_DEF_TYPE).orElseThrow());
        assertEquals(CODE1, saved.get(1).regs().rip());
        assertEquals(0xFB, vmSaved.irqchip(VmFd.IRQCHIP_PIC_MASTER)[PIC_IMR] & 0xFF);
        assertEquals(0x0100_0000_0001_0035L, u64(vmSaved.irqchip(VmFd.IRQCHIP_IOAPIC), IOAPIC_REDIRTBL + 5 * 8));
        assertEquals(0x1234, ByteBuffer.wrap(vmSaved.pit()).order(ByteOrder.LITTLE_ENDIAN).getInt(2 * PIT_CHANNEL));
        assertTrue(vmSaved.clock().clock() >= 10_000_000_000L, "clock " + vmSaved.clock());

        // A second VM set up the same way (what a restore starts from), with the same RAM contents.
        Machine second = machine(2);
        MemorySegment.copy(first.ram(), 0, second.ram(), 0, RAM_SIZE);
        assertEquals(VcpuFd.MP_UNINITIALIZED, second.vcpus().get(1).getMpState());
        second.vm().restoreState(vmSaved);
        for (int i = 0; i < 2; i++) second.vcpus().get(i).restoreState(saved.get(i));

        VmState vmRestored = second.vm().captureState();
        List<VcpuState> restored = second.vcpus().stream().map(v -> v.captureState(msrIndices)).toList();

        assertEquals(vmSaved.irqchips().size(), vmRestored.irqchips().size());
        for (int chip = 0; chip < 3; chip++) {
            assertArrayEquals(vmSaved.irqchip(chip), vmRestored.irqchip(chip), "irqchip " + chip);
        }
        assertArrayEquals(withoutPitLoadTimes(vmSaved.pit()), withoutPitLoadTimes(vmRestored.pit()), "PIT");
        long clockAdvance = vmRestored.clock().clock() - vmSaved.clock().clock();
        assertTrue(clockAdvance >= 0 && clockAdvance < 30_000_000_000L, "kvmclock moved by " + clockAdvance + " ns");

        for (int i = 0; i < 2; i++) {
            VcpuState s = saved.get(i), r = restored.get(i);
            String who = "vCPU " + i + ": ";
            assertEquals(s.cpuid(), r.cpuid(), who + "cpuid");
            assertEquals(s.mpState(), r.mpState(), who + "mp state");
            assertEquals(s.regs(), r.regs(), who + "regs");
            assertEquals(s.sregs(), r.sregs(), who + "sregs");
            assertArrayEquals(s.fpu(), r.fpu(), who + "fpu");
            assertArrayEquals(s.xsave(), r.xsave(), who + "xsave");
            assertEquals(s.xcrs(), r.xcrs(), who + "xcrs");
            assertArrayEquals(s.lapic(), r.lapic(), who + "lapic");
            assertArrayEquals(s.vcpuEvents(), r.vcpuEvents(), who + "vcpu events");
            assertArrayEquals(s.debugRegs(), r.debugRegs(), who + "debug regs");
            assertEquals(s.tscKhz(), r.tscKhz(), who + "TSC kHz");
            assertEquals(msrsWithoutTsc(s), msrsWithoutTsc(r), who + "MSRs");
            long tscSaved = s.msr(IA32_TSC).orElseThrow(), tscRestored = r.msr(IA32_TSC).orElseThrow();
            // KVM keeps a restored guest TSC from going back only where the host's TSC is invariant.
            if (hostTscStable()) {
                assertTrue(Long.compareUnsigned(tscRestored, tscSaved) >= 0, who + "TSC went back: " + tscSaved + " -> " + tscRestored);
            } else {
                System.out.println(who + "host TSC not invariant (no constant_tsc/nonstop_tsc): TSC " + tscSaved + " -> " + tscRestored + " not checked");
            }
        }

        // The restored vCPUs execute: vCPU 0 its code, vCPU 1 with the value from its restored RBX.
        assertPortOut(runToExit(second.vcpus().get(0)), 0x10, 0x42);
        assertPortOut(runToExit(second.vcpus().get(1)), 0x11, 0x43);
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void captureAfterAPortExitNeedsTheInstructionCompletedFirst() throws Exception {
        // mov $0x42,%al; out %al,$0x10; inc %al; out %al,$0x10; hlt
        byte[] code = {(byte) 0xB0, 0x42, (byte) 0xE6, 0x10, (byte) 0xFE, (byte) 0xC0, (byte) 0xE6, 0x10, (byte) 0xF4};
        Machine first = machine(1);
        VcpuFd vcpu = first.vcpus().get(0);
        MemorySegment.copy(code, 0, first.ram(), JAVA_BYTE, CODE0, code.length);
        vcpu.setSregs(realModeAtZero(vcpu.getSregs(), 0));
        vcpu.setRegs(Regs.initial().withRip(CODE0));
        assertPortOut(runToExit(vcpu), 0x10, 0x42);

        // Complete the OUT without running further guest code: KVM_RUN with immediate_exit returns EINTR at once.
        // (Hardware KVM moves RIP past an OUT only in that next KVM_RUN; kvm_pvm has already moved it at the exit.)
        vcpu.runPage().setImmediateExit(true);
        assertInstanceOf(VmExit.Interrupted.class, runOnce(vcpu));
        vcpu.runPage().setImmediateExit(false);
        assertEquals(CODE0 + 4, vcpu.getRegs().rip(), "RIP after the completed OUT");

        List<Integer> msrIndices = msrsToSave(vcpu);
        VmState vmState = first.vm().captureState();
        VcpuState state = vcpu.captureState(msrIndices);

        Machine second = machine(1);
        MemorySegment.copy(first.ram(), 0, second.ram(), 0, RAM_SIZE);
        second.vm().restoreState(vmState);
        second.vcpus().get(0).restoreState(state);
        assertPortOut(runToExit(second.vcpus().get(0)), 0x10, 0x43);
    }

    @Test
    void setStateRejectsWrongSizes() {
        Machine m = machine(1);
        VcpuFd vcpu = m.vcpus().get(0);
        assertThrows(IllegalArgumentException.class, () -> vcpu.setLapic(new byte[100]));
        assertThrows(IllegalArgumentException.class, () -> vcpu.setXsave(new byte[4000]));
        assertThrows(IllegalArgumentException.class, () -> vcpu.setVcpuEvents(new byte[63]));
        assertThrows(IllegalArgumentException.class, () -> m.vm().setPit2(new byte[8]));
        // An image of one chip cannot be restored into another.
        byte[] master = m.vm().getIrqchip(VmFd.IRQCHIP_PIC_MASTER);
        assertThrows(IllegalArgumentException.class, () -> m.vm().setIrqchip(VmFd.IRQCHIP_IOAPIC, master));
    }

    @Test
    void readableMsrsSkipsEachRefusedOneAndKeepsTheOrder() {
        VcpuFd vcpu = machine(1).vcpus().get(0);
        int refused = 0x1234_5678; // no MSR: KVM_GET_MSRS stops there
        assumeTrue(vcpu.getMsrs(List.of(refused)).isEmpty(), "this KVM reads unknown MSRs (ignore_msrs)");
        assertEquals(List.of(IA32_TSC, IA32_PAT, IA32_TSC),
                vcpu.readableMsrs(List.of(refused, IA32_TSC, refused, refused, IA32_PAT, IA32_TSC, refused)));
        assertEquals(List.of(), vcpu.readableMsrs(List.of(refused)));
        // One read asks for at most 255 (256 or more is E2BIG): a longer list is read in chunks,
        // here with the refused one first in the second chunk.
        List<Integer> many = new ArrayList<>(java.util.Collections.nCopies(300, IA32_TSC));
        many.set(255, refused);
        assertEquals(299, vcpu.readableMsrs(many).size());
    }

    @Test
    void systemAndVcpuQueries() {
        List<Integer> msrs = kvm.getMsrIndexList();
        assertTrue(msrs.size() >= 10, "MSR index list: " + hex(msrs));
        assertTrue(msrs.contains(IA32_TSC), "IA32_TSC not in " + hex(msrs));
        Machine m = machine(1);
        VcpuFd vcpu = m.vcpus().get(0);
        assertTrue(vcpu.xsaveSize() >= 4096, "xsave size " + vcpu.xsaveSize());
        assertEquals(vcpu.xsaveSize(), vcpu.getXsave().length);
        assertEquals(Lapic.STATE_SIZE, vcpu.getLapic().length);
        assertEquals(0, Lapic.register(vcpu.getLapic(), Lapic.ID) >>> 24, "vCPU 0's APIC id");
        assertEquals(64, vcpu.getVcpuEvents().length);
        assertEquals(128, vcpu.getDebugRegs().length);
        // The vCPU gets the supported entries; a KVM may drop some it will not expose (kvm_pvm drops 3 of 59).
        int set = vcpu.getCpuid().size(), supported = kvm.supportedCpuid().size();
        assertTrue(set > 0 && set <= supported, "vCPU CPUID entries " + set + " of " + supported + " supported");
        assumeTrue(m.vm().checkExtension(Capability.GET_TSC_KHZ) > 0, "no KVM_CAP_GET_TSC_KHZ");
        assertTrue(vcpu.getTscKhz() > 100_000, "TSC kHz " + vcpu.getTscKhz());
    }

    @Test
    void setTscKhz() {
        Machine m = machine(1);
        assumeTrue(m.vm().checkExtension(Capability.TSC_CONTROL) > 0, "no KVM_CAP_TSC_CONTROL on this host");
        VcpuFd vcpu = m.vcpus().get(0);
        int khz = vcpu.getTscKhz();
        vcpu.setTscKhz(khz / 2);
        assertEquals(khz / 2, vcpu.getTscKhz());
    }

    // ---- Dirty-page log ----

    private static final long LOGGED_BASE = 0x10_0000, LOGGED_PAGES = 64;
    /**
     * 32-bit protected mode: {@code loop: mov %al,(%edi); add $0x2000,%edi; dec %ecx; jnz loop;
     * out %al,$0x10; hlt} - writes every other page, ECX times, from EDI.
     */
    private static final byte[] WRITE_PAGES = {
            (byte) 0x88, 0x07, (byte) 0x81, (byte) 0xC7, 0x00, 0x20, 0x00, 0x00, 0x49, 0x75, (byte) 0xF5,
            (byte) 0xE6, 0x10, (byte) 0xF4};

    /** Runs the page-writing loop over pages 3, 5, ... 11 of slot 1 (at 1 MiB). */
    private void runPageWriter(Machine m) throws InterruptedException {
        VcpuFd vcpu = m.vcpus().get(0);
        MemorySegment.copy(WRITE_PAGES, 0, m.ram(), JAVA_BYTE, CODE0, WRITE_PAGES.length);
        vcpu.setSregs(vcpu.getSregs().flatProtectedMode());
        vcpu.setRegs(new Regs(0x5A, 0, 5, 0, 0, LOGGED_BASE + 3 * 4096, 0x8000, 0, 0, 0, 0, 0, 0, 0, 0, 0, CODE0,
                Regs.RFLAGS_RESERVED));
        assertPortOut(runToExit(vcpu), 0x10, 0x5A);
    }

    private static final long[] PAGES_WRITTEN = {3, 5, 7, 9, 11};

    private static List<Long> setBits(long[] bitmap) {
        List<Long> pages = new ArrayList<>();
        for (int w = 0; w < bitmap.length; w++) {
            for (int b = 0; b < 64; b++) if ((bitmap[w] >>> b & 1) != 0) pages.add(w * 64L + b);
        }
        return pages;
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void dirtyLogShowsExactlyThePagesTheGuestWrote() throws Exception {
        MemorySegment logged = closeLater(Arena.ofShared()).allocate(LOGGED_PAGES * 4096, 4096); // outlives the VM
        Machine m = machine(1);
        m.vm().setUserMemoryRegion(1, VmFd.MEM_LOG_DIRTY_PAGES, LOGGED_BASE, logged.byteSize(), logged.address());
        assertEquals(List.of(), setBits(m.vm().getDirtyLog(1, LOGGED_PAGES)), "nothing written yet");

        runPageWriter(m);
        long[] bitmap = m.vm().getDirtyLog(1, LOGGED_PAGES);
        assertEquals(1, bitmap.length);
        assertEquals(Arrays.stream(PAGES_WRITTEN).boxed().toList(), setBits(bitmap));
        for (long page : PAGES_WRITTEN) assertEquals(0x5A, logged.get(JAVA_BYTE, page * 4096));
        assertEquals(List.of(), setBits(m.vm().getDirtyLog(1, LOGGED_PAGES)), "KVM_GET_DIRTY_LOG clears the log");

        SyscallException noLog = assertThrows(SyscallException.class, () -> m.vm().getDirtyLog(0, RAM_SIZE / 4096));
        assertEquals(2, noLog.errno(), "ENOENT for a slot without dirty logging: " + noLog.getMessage());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void manualDirtyLogProtectKeepsBitsUntilCleared() throws Exception {
        MemorySegment logged = closeLater(Arena.ofShared()).allocate(LOGGED_PAGES * 4096, 4096); // outlives the VM
        Machine m = machine(1);
        assumeTrue((m.vm().checkExtension(Capability.MANUAL_DIRTY_LOG_PROTECT2) & VmFd.DIRTY_LOG_MANUAL_PROTECT_ENABLE) != 0,
                "no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
        m.vm().enableCap(Capability.MANUAL_DIRTY_LOG_PROTECT2, VmFd.DIRTY_LOG_MANUAL_PROTECT_ENABLE);
        m.vm().setUserMemoryRegion(1, VmFd.MEM_LOG_DIRTY_PAGES, LOGGED_BASE, logged.byteSize(), logged.address());
        runPageWriter(m);

        List<Long> expected = Arrays.stream(PAGES_WRITTEN).boxed().toList();
        long[] bitmap = m.vm().getDirtyLog(1, LOGGED_PAGES);
        assertEquals(expected, setBits(bitmap));
        assertEquals(expected, setBits(m.vm().getDirtyLog(1, LOGGED_PAGES)), "not cleared by KVM_GET_DIRTY_LOG");
        m.vm().clearDirtyLog(1, 0, (int) LOGGED_PAGES, bitmap);
        assertEquals(List.of(), setBits(m.vm().getDirtyLog(1, LOGGED_PAGES)), "cleared by KVM_CLEAR_DIRTY_LOG");
    }

    // ---- helpers ----

    /**
     * An invariant TSC ({@code constant_tsc} and {@code nonstop_tsc}), as every VT-x/AMD-V machine
     * of the last decade has. Without it (the emulated KVM host's TCG CPU) KVM runs guest TSCs in
     * catch-up mode and re-bases them, and a restored TSC may read lower than the saved one.
     */
    private static boolean hostTscStable() {
        try {
            String cpuinfo = Files.readString(Path.of("/proc/cpuinfo"));
            return cpuinfo.contains(" constant_tsc") && cpuinfo.contains(" nonstop_tsc");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /**
     * Hyper-V's clocks, which KVM lists where it emulates Hyper-V (as on AMD hosts): the partition
     * reference counter and the vCPU's run time count on by themselves, like the TSC.
     */
    private static final int HV_VP_RUNTIME = 0x40000010, HV_TIME_REF_COUNT = 0x40000020;

    /** The MSRs but the counters that run on between capture and restore (TSC, Hyper-V's clocks). */
    private static Map<Integer, Long> msrsWithoutTsc(VcpuState s) {
        Map<Integer, Long> out = new LinkedHashMap<>();
        for (MsrEntry e : s.msrs()) {
            if (e.index() != IA32_TSC && e.index() != HV_VP_RUNTIME && e.index() != HV_TIME_REF_COUNT) out.put(e.index(), e.data());
        }
        return out;
    }

    private static byte[] withoutPitLoadTimes(byte[] pit) {
        byte[] copy = pit.clone();
        for (int c = 0; c < 3; c++) Arrays.fill(copy, c * PIT_CHANNEL + PIT_LOAD_TIME, c * PIT_CHANNEL + PIT_LOAD_TIME + 8, (byte) 0);
        return copy;
    }

    private static List<String> hex(List<Integer> values) {
        return values.stream().map(v -> "0x" + Integer.toHexString(v)).toList();
    }

    private static void assertPortOut(VmExit exit, int port, int value) {
        VmExit.PortOut out = assertInstanceOf(VmExit.PortOut.class, exit);
        assertEquals(port, out.port(), "port of " + out);
        assertEquals(1, out.size(), "size of " + out);
        assertEquals(value, out.value(0), "value of " + out);
    }

    /** One KVM_RUN on a thread of its own; fails if the guest has not exited after 20 s. */
    private static VmExit runOnce(VcpuFd vcpu) throws InterruptedException {
        AtomicReference<Object> result = new AtomicReference<>();
        boolean kicked = false;
        Thread t = Thread.ofPlatform().daemon().name("vcpu" + vcpu.id() + "-test").start(() -> {
            vcpu.bindToCurrentThread();
            try {
                result.set(vcpu.run());
            } catch (Throwable e) {
                result.set(e);
            } finally {
                vcpu.unbindThread();
            }
        });
        t.join(20_000);
        for (int i = 0; i < 10 && t.isAlive(); i++) {
            kicked = true;
            vcpu.kick();
            t.join(500);
        }
        if (result.get() instanceof Throwable e) throw new AssertionError("KVM_RUN failed", e);
        assertFalse(t.isAlive(), "vCPU thread stuck in KVM_RUN");
        if (kicked) {
            vcpu.runPage().setImmediateExit(false);
            fail("the guest did not exit within 20 s; vCPU at " + vcpu.getRegs());
        }
        return (VmExit) result.get();
    }

    /** KVM_RUN until the first exit that is not an interruption. */
    private static VmExit runToExit(VcpuFd vcpu) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            VmExit exit = runOnce(vcpu);
            if (!(exit instanceof VmExit.Interrupted)) return exit;
        }
        return fail("no exit after 100 interrupted runs");
    }
}
