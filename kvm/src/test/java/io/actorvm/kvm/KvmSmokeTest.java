package io.actorvm.kvm;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bindings against the real /dev/kvm. Skipped where there is no usable KVM. */
class KvmSmokeTest {
    private static final Path DEV = Path.of("/dev/kvm");

    /** Everything opened by a test, closed in reverse order (vCPUs, VM, system fd, then guest RAM). */
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

    @Test
    void systemQueries() {
        assertEquals(12, kvm.apiVersion());
        assertTrue(kvm.checkExtension(Capability.IRQCHIP) > 0);
        assertTrue(kvm.checkExtension(Capability.USER_MEMORY) > 0);
        assertTrue(kvm.checkExtension(Capability.IMMEDIATE_EXIT) > 0, "kick() relies on immediate_exit");
        assertTrue(kvm.vcpuMmapSize() >= 3 * 4096, "kvm_run, PIO page and coalesced ring: " + kvm.vcpuMmapSize());
        List<CpuidEntry> cpuid = kvm.supportedCpuid();
        assertFalse(cpuid.isEmpty());
        CpuidEntry leaf0 = cpuid.stream().filter(e -> e.function() == 0).findFirst().orElseThrow(
                () -> new AssertionError("no CPUID leaf 0 in " + cpuid));
        assertTrue(leaf0.eax() >= 1, "leaf 0 reports max basic leaf " + leaf0.eax());
        assertTrue(cpuid.stream().anyMatch(e -> e.function() == 1), "no CPUID leaf 1");
    }

    @Test
    void vcpuRegisterRoundTrips() {
        VmFd vm = closeLater(kvm.createVm());
        vm.createIrqchip();
        VcpuFd vcpu = closeLater(vm.createVcpu(0));
        assertEquals(0, vcpu.id());
        assertEquals(VcpuFd.MP_RUNNABLE, vcpu.getMpState(), "vCPU 0 is the BSP");

        Regs reset = vcpu.getRegs();
        assertEquals(0xFFF0L, reset.rip(), "x86 reset vector offset");
        assertEquals(Regs.RFLAGS_RESERVED, reset.rflags() & Regs.RFLAGS_RESERVED);

        Regs regs = new Regs(1, 2, 3, 4, 5, 6, 0x7000, 8, 9, 10, 11, 12, 13, 14, 15, 0xFEDC_BA98_7654_3210L,
                0x1000, 0x2 | 0x40);
        vcpu.setRegs(regs);
        assertEquals(regs, vcpu.getRegs());

        Sregs s = vcpu.getSregs();
        assertEquals(0xF000, s.cs().selector(), "reset CS");
        assertEquals(0xFFFF_0000L, s.cs().base(), "reset CS base");
        Sregs changed = new Sregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(),
                new DescriptorTable(0x2000, 0x27), new DescriptorTable(0x3000, 0x7FF),
                s.cr0(), 0xDEAD_B000L, s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap());
        vcpu.setSregs(changed);
        Sregs back = vcpu.getSregs();
        assertEquals(new DescriptorTable(0x2000, 0x27), back.gdt());
        assertEquals(new DescriptorTable(0x3000, 0x7FF), back.idt());
        assertEquals(0xDEAD_B000L, back.cr2());
        assertEquals(s.cs(), back.cs());
        assertEquals(s.ds(), back.ds());
        assertEquals(s.ss(), back.ss());
        assertEquals(s.tr(), back.tr());
        assertEquals(s.ldt(), back.ldt());
        assertEquals(s.cr0(), back.cr0());
        assertEquals(s.cr4(), back.cr4());
        assertEquals(s.efer(), back.efer());
        assertEquals(s.apicBase(), back.apicBase());
        assertArrayEquals(s.interruptBitmap(), back.interruptBitmap());
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void kickGetsAWaitingApOutOfKvmRun() throws Exception {
        Arena ram = Arena.ofShared();
        MemorySegment mem = ram.allocate(0x10000, 4096);
        toClose.add(ram); // closed after the VM and its vCPUs
        VmFd vm = closeLater(kvm.createVm());
        vm.setTssAddress(0xFFFB_D000L);
        vm.createIrqchip();
        vm.setUserMemoryRegion(0, 0, 0, mem.byteSize(), mem.address());
        mem.set(ValueLayout.JAVA_BYTE, 0x1000, (byte) 0xFA); // cli
        mem.set(ValueLayout.JAVA_BYTE, 0x1001, (byte) 0xF4); // hlt
        closeLater(vm.createVcpu(0));
        VcpuFd ap = closeLater(vm.createVcpu(1));
        assertEquals(VcpuFd.MP_UNINITIALIZED, ap.getMpState(), "an AP waits for INIT/SIPI");

        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<VmExit> exits = new ArrayList<>();
        AtomicLong secondRunNanos = new AtomicLong();
        CountDownLatch firstDone = new CountDownLatch(1);
        CountDownLatch secondStart = new CountDownLatch(1);
        Thread vcpuThread = Thread.ofPlatform().daemon().name("vcpu1-test").unstarted(() -> {
            try {
                ap.bindToCurrentThread();
                try {
                    exits.add(ap.run()); // blocks: the AP waits for a SIPI that never comes
                    ap.acknowledgeKick();
                    firstDone.countDown();
                    secondStart.await();
                    long t0 = System.nanoTime();
                    exits.add(ap.run()); // must block again: the first kick was fully consumed
                    secondRunNanos.set(System.nanoTime() - t0);
                    ap.acknowledgeKick();
                } finally {
                    ap.unbindThread();
                }
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                firstDone.countDown();
            }
        });
        vcpuThread.start();
        try {
            Thread.sleep(200);
            assertEquals(1, firstDone.getCount(), () -> "KVM_RUN returned before the kick: " + failure.get());
            ap.kick();
            assertTrue(firstDone.await(5, TimeUnit.SECONDS), "KVM_RUN did not return within 5 s of the kick");
            assertNull(failure.get(), () -> "vCPU thread failed: " + failure.get());
            assertEquals(0, ap.runPage().segment().get(ValueLayout.JAVA_BYTE, 1), "acknowledgeKick clears immediate_exit");

            secondStart.countDown();
            Thread.sleep(200);
            ap.kick();
            vcpuThread.join(5000);
            assertFalse(vcpuThread.isAlive(), "vCPU thread still in KVM_RUN 5 s after the second kick");
            assertNull(failure.get(), () -> "vCPU thread failed: " + failure.get());
            assertEquals(2, exits.size());
            assertInstanceOf(VmExit.Interrupted.class, exits.get(0));
            assertInstanceOf(VmExit.Interrupted.class, exits.get(1));
            assertTrue(secondRunNanos.get() >= TimeUnit.MILLISECONDS.toNanos(50),
                    "second KVM_RUN returned after " + secondRunNanos.get() / 1_000_000 + " ms, before its kick");
        } finally {
            // On a failed assertion, get the thread out of KVM_RUN before @AfterEach unmaps kvm_run under it.
            secondStart.countDown();
            for (int i = 0; i < 10 && vcpuThread.isAlive(); i++) {
                ap.kick();
                vcpuThread.join(500);
            }
        }
        assertEquals(VcpuFd.MP_UNINITIALIZED, ap.getMpState());
    }
}
