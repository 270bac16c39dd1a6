package io.actorvm.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Memory layouts of the {@code <linux/kvm.h>} structs we pass to ioctls. Padding is explicit, as
 * the C compiler would insert it; {@code KvmLayoutTest} compares every size and offset with gcc's.
 */
public final class Structs {
    private Structs() {}

    public static final StructLayout USERSPACE_MEMORY_REGION = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("flags"),
            JAVA_LONG.withName("guest_phys_addr"), JAVA_LONG.withName("memory_size"),
            JAVA_LONG.withName("userspace_addr")).withName("kvm_userspace_memory_region");

    public static final StructLayout IRQ_LEVEL = structLayout(
            JAVA_INT.withName("irq"), JAVA_INT.withName("level")).withName("kvm_irq_level");

    public static final StructLayout COALESCED_MMIO_ZONE = structLayout(
            JAVA_LONG.withName("addr"), JAVA_INT.withName("size"), JAVA_INT.withName("pio"))
            .withName("kvm_coalesced_mmio_zone");

    public static final StructLayout PIT_CONFIG = structLayout(
            JAVA_INT.withName("flags"), sequenceLayout(15, JAVA_INT).withName("pad")).withName("kvm_pit_config");

    public static final StructLayout IOEVENTFD = structLayout(
            JAVA_LONG.withName("datamatch"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"),
            JAVA_INT.withName("fd"), JAVA_INT.withName("flags"), sequenceLayout(36, JAVA_BYTE).withName("pad"))
            .withName("kvm_ioeventfd");

    public static final StructLayout IRQFD = structLayout(
            JAVA_INT.withName("fd"), JAVA_INT.withName("gsi"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("resamplefd"), sequenceLayout(16, JAVA_BYTE).withName("pad")).withName("kvm_irqfd");

    public static final StructLayout REGS = structLayout(
            JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
            JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
            JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
            JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
            JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags")).withName("kvm_regs");

    public static final StructLayout SEGMENT = structLayout(
            JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"),
            JAVA_BYTE.withName("type"), JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"),
            JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"), JAVA_BYTE.withName("l"), JAVA_BYTE.withName("g"),
            JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"), JAVA_BYTE.withName("padding"))
            .withName("kvm_segment");

    public static final StructLayout DTABLE = structLayout(
            JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"), sequenceLayout(3, JAVA_SHORT).withName("padding"))
            .withName("kvm_dtable");

    public static final StructLayout SREGS = structLayout(
            SEGMENT.withName("cs"), SEGMENT.withName("ds"), SEGMENT.withName("es"), SEGMENT.withName("fs"),
            SEGMENT.withName("gs"), SEGMENT.withName("ss"), SEGMENT.withName("tr"), SEGMENT.withName("ldt"),
            DTABLE.withName("gdt"), DTABLE.withName("idt"),
            JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"), JAVA_LONG.withName("cr4"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"), JAVA_LONG.withName("apic_base"),
            sequenceLayout(4, JAVA_LONG).withName("interrupt_bitmap")).withName("kvm_sregs");

    public static final StructLayout FPU = structLayout(
            sequenceLayout(128, JAVA_BYTE).withName("fpr"), JAVA_SHORT.withName("fcw"), JAVA_SHORT.withName("fsw"),
            JAVA_BYTE.withName("ftwx"), JAVA_BYTE.withName("pad1"), JAVA_SHORT.withName("last_opcode"),
            JAVA_LONG.withName("last_ip"), JAVA_LONG.withName("last_dp"),
            sequenceLayout(256, JAVA_BYTE).withName("xmm"), JAVA_INT.withName("mxcsr"), JAVA_INT.withName("pad2"))
            .withName("kvm_fpu");

    public static final StructLayout CPUID_ENTRY2 = structLayout(
            JAVA_INT.withName("function"), JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("eax"), JAVA_INT.withName("ebx"), JAVA_INT.withName("ecx"), JAVA_INT.withName("edx"),
            sequenceLayout(3, JAVA_INT).withName("padding")).withName("kvm_cpuid_entry2");

    /** Header of kvm_cpuid2; the entries follow it. */
    public static final StructLayout CPUID2 = structLayout(
            JAVA_INT.withName("nent"), JAVA_INT.withName("padding")).withName("kvm_cpuid2");

    public static final StructLayout MSR_ENTRY = structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data"))
            .withName("kvm_msr_entry");

    /** Header of kvm_msrs; the entries follow it. */
    public static final StructLayout MSRS = structLayout(
            JAVA_INT.withName("nmsrs"), JAVA_INT.withName("pad")).withName("kvm_msrs");

    public static final StructLayout MP_STATE = structLayout(JAVA_INT.withName("mp_state")).withName("kvm_mp_state");

    /** Header of kvm_msr_list (KVM_GET_MSR_INDEX_LIST); the u32 indices follow it. */
    public static final StructLayout MSR_LIST = structLayout(JAVA_INT.withName("nmsrs")).withName("kvm_msr_list");

    // ---- vCPU state (snapshots) ----

    /** struct kvm_lapic_state: the LAPIC register page as the SDM lays it out (register at 16-byte steps). */
    public static final StructLayout LAPIC_STATE = structLayout(
            sequenceLayout(1024, JAVA_BYTE).withName("regs")).withName("kvm_lapic_state");

    /**
     * struct kvm_xsave: the XSAVE image (standard format, offsets as CPUID leaf 0xD on the host).
     * With KVM_CAP_XSAVE2 the kernel may read and write more than these 4096 bytes (flexible
     * {@code extra[]}), as many as KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) on the VM fd says.
     */
    public static final StructLayout XSAVE = structLayout(
            sequenceLayout(1024, JAVA_INT).withName("region")).withName("kvm_xsave");

    public static final StructLayout XCR = structLayout(
            JAVA_INT.withName("xcr"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("value")).withName("kvm_xcr");

    /** struct kvm_xcrs: up to KVM_MAX_XCRS (16) extended control registers. */
    public static final StructLayout XCRS = structLayout(
            JAVA_INT.withName("nr_xcrs"), JAVA_INT.withName("flags"), sequenceLayout(16, XCR).withName("xcrs"),
            sequenceLayout(16, JAVA_LONG).withName("padding")).withName("kvm_xcrs");

    /** struct kvm_vcpu_events: pending/injected exception, interrupt, NMI, SMI, SIPI vector (64 bytes). */
    public static final StructLayout VCPU_EVENTS = structLayout(
            structLayout(JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("nr"), JAVA_BYTE.withName("has_error_code"),
                    JAVA_BYTE.withName("pending"), JAVA_INT.withName("error_code")).withName("exception"),
            structLayout(JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("nr"), JAVA_BYTE.withName("soft"),
                    JAVA_BYTE.withName("shadow")).withName("interrupt"),
            structLayout(JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("pending"), JAVA_BYTE.withName("masked"),
                    JAVA_BYTE.withName("pad")).withName("nmi"),
            JAVA_INT.withName("sipi_vector"), JAVA_INT.withName("flags"),
            structLayout(JAVA_BYTE.withName("smm"), JAVA_BYTE.withName("pending"), JAVA_BYTE.withName("smm_inside_nmi"),
                    JAVA_BYTE.withName("latched_init")).withName("smi"),
            structLayout(JAVA_BYTE.withName("pending")).withName("triple_fault"),
            sequenceLayout(26, JAVA_BYTE).withName("reserved"), JAVA_BYTE.withName("exception_has_payload"),
            JAVA_LONG.withName("exception_payload")).withName("kvm_vcpu_events");

    /** struct kvm_debugregs: DR0-3, DR6, DR7; {@code flags} must be 0 on set. */
    public static final StructLayout DEBUGREGS = structLayout(
            sequenceLayout(4, JAVA_LONG).withName("db"), JAVA_LONG.withName("dr6"), JAVA_LONG.withName("dr7"),
            JAVA_LONG.withName("flags"), sequenceLayout(9, JAVA_LONG).withName("reserved")).withName("kvm_debugregs");

    /** struct kvm_enable_cap (KVM_ENABLE_CAP on a VM or vCPU fd). */
    public static final StructLayout ENABLE_CAP = structLayout(
            JAVA_INT.withName("cap"), JAVA_INT.withName("flags"), sequenceLayout(4, JAVA_LONG).withName("args"),
            sequenceLayout(64, JAVA_BYTE).withName("pad")).withName("kvm_enable_cap");

    // ---- VM state (snapshots) ----

    /** struct kvm_pic_state: one 8259A (KVM_GET_IRQCHIP chip 0 or 1). */
    public static final StructLayout PIC_STATE = structLayout(
            JAVA_BYTE.withName("last_irr"), JAVA_BYTE.withName("irr"), JAVA_BYTE.withName("imr"), JAVA_BYTE.withName("isr"),
            JAVA_BYTE.withName("priority_add"), JAVA_BYTE.withName("irq_base"), JAVA_BYTE.withName("read_reg_select"),
            JAVA_BYTE.withName("poll"), JAVA_BYTE.withName("special_mask"), JAVA_BYTE.withName("init_state"),
            JAVA_BYTE.withName("auto_eoi"), JAVA_BYTE.withName("rotate_on_auto_eoi"),
            JAVA_BYTE.withName("special_fully_nested_mode"), JAVA_BYTE.withName("init4"), JAVA_BYTE.withName("elcr"),
            JAVA_BYTE.withName("elcr_mask")).withName("kvm_pic_state");

    /**
     * struct kvm_ioapic_state (KVM_GET_IRQCHIP chip 2). {@code redirtbl} is 24 64-bit redirection
     * entries in the IOAPIC's own format (vector in bits 0-7, mask bit 16, destination in bits 56-63).
     */
    public static final StructLayout IOAPIC_STATE = structLayout(
            JAVA_LONG.withName("base_address"), JAVA_INT.withName("ioregsel"), JAVA_INT.withName("id"),
            JAVA_INT.withName("irr"), JAVA_INT.withName("pad"), sequenceLayout(24, JAVA_LONG).withName("redirtbl"))
            .withName("kvm_ioapic_state");

    /** struct kvm_irqchip: chip_id (0 PIC master, 1 PIC slave, 2 IOAPIC) and a 512-byte union (520 bytes). */
    public static final StructLayout IRQCHIP = structLayout(
            JAVA_INT.withName("chip_id"), JAVA_INT.withName("pad"),
            MemoryLayout.unionLayout(sequenceLayout(512, JAVA_BYTE).withName("dummy"), PIC_STATE.withName("pic"),
                    IOAPIC_STATE.withName("ioapic")).withName("chip")).withName("kvm_irqchip");

    public static final StructLayout PIT_CHANNEL_STATE = structLayout(
            JAVA_INT.withName("count"), JAVA_SHORT.withName("latched_count"), JAVA_BYTE.withName("count_latched"),
            JAVA_BYTE.withName("status_latched"), JAVA_BYTE.withName("status"), JAVA_BYTE.withName("read_state"),
            JAVA_BYTE.withName("write_state"), JAVA_BYTE.withName("write_latch"), JAVA_BYTE.withName("rw_mode"),
            JAVA_BYTE.withName("mode"), JAVA_BYTE.withName("bcd"), JAVA_BYTE.withName("gate"),
            JAVA_LONG.withName("count_load_time")).withName("kvm_pit_channel_state");

    /** struct kvm_pit_state2: the three i8254 channels and flags (112 bytes). */
    public static final StructLayout PIT_STATE2 = structLayout(
            sequenceLayout(3, PIT_CHANNEL_STATE).withName("channels"), JAVA_INT.withName("flags"),
            sequenceLayout(9, JAVA_INT).withName("reserved")).withName("kvm_pit_state2");

    /** struct kvm_clock_data (KVM_GET/SET_CLOCK). */
    public static final StructLayout CLOCK_DATA = structLayout(
            JAVA_LONG.withName("clock"), JAVA_INT.withName("flags"), JAVA_INT.withName("pad0"),
            JAVA_LONG.withName("realtime"), JAVA_LONG.withName("host_tsc"), sequenceLayout(4, JAVA_INT).withName("pad"))
            .withName("kvm_clock_data");

    /**
     * struct kvm_dirty_log. In C {@code dirty_bitmap} sits in an anonymous union with a u64, so it
     * is 8 bytes at offset 8 whatever the pointer size; here it is declared as the pointer it is.
     */
    public static final StructLayout DIRTY_LOG = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("padding1"), ADDRESS.withName("dirty_bitmap"))
            .withName("kvm_dirty_log");

    /** struct kvm_clear_dirty_log (KVM_CLEAR_DIRTY_LOG, with MANUAL_DIRTY_LOG_PROTECT2 enabled). */
    public static final StructLayout CLEAR_DIRTY_LOG = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("num_pages"), JAVA_LONG.withName("first_page"),
            ADDRESS.withName("dirty_bitmap")).withName("kvm_clear_dirty_log");

    /** kvm_run.io, at offset 32 of kvm_run. */
    public static final StructLayout RUN_IO = structLayout(
            JAVA_BYTE.withName("direction"), JAVA_BYTE.withName("size"), JAVA_SHORT.withName("port"),
            JAVA_INT.withName("count"), JAVA_LONG.withName("data_offset")).withName("io");

    /** kvm_run.mmio. */
    public static final StructLayout RUN_MMIO = structLayout(
            JAVA_LONG.withName("phys_addr"), sequenceLayout(8, JAVA_BYTE).withName("data"), JAVA_INT.withName("len"),
            JAVA_BYTE.withName("is_write"), paddingLayout(3)).withName("mmio");

    /** kvm_run.debug: a debug exception while guest debugging is on (KVM_EXIT_DEBUG). */
    public static final StructLayout RUN_DEBUG = structLayout(structLayout(
            JAVA_INT.withName("exception"), JAVA_INT.withName("pad"), JAVA_LONG.withName("pc"), JAVA_LONG.withName("dr6"),
            JAVA_LONG.withName("dr7")).withName("arch")).withName("debug");

    /** struct kvm_guest_debug (KVM_SET_GUEST_DEBUG): control flags and DR0-7 for hardware breakpoints. */
    public static final StructLayout GUEST_DEBUG = structLayout(
            JAVA_INT.withName("control"), JAVA_INT.withName("pad"),
            structLayout(sequenceLayout(8, JAVA_LONG).withName("debugreg")).withName("arch")).withName("kvm_guest_debug");

    /** The fixed head of kvm_run up to and including the 256-byte exit union. */
    public static final StructLayout RUN = structLayout(
            JAVA_BYTE.withName("request_interrupt_window"), JAVA_BYTE.withName("immediate_exit"),
            sequenceLayout(6, JAVA_BYTE).withName("padding1"),
            JAVA_INT.withName("exit_reason"), JAVA_BYTE.withName("ready_for_interrupt_injection"),
            JAVA_BYTE.withName("if_flag"), JAVA_SHORT.withName("flags"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("apic_base"),
            MemoryLayout.unionLayout(RUN_IO, RUN_MMIO, RUN_DEBUG, sequenceLayout(256, JAVA_BYTE).withName("padding"))
                    .withName("exit"),
            JAVA_LONG.withName("kvm_valid_regs"), JAVA_LONG.withName("kvm_dirty_regs")).withName("kvm_run");

    /** struct kvm_coalesced_mmio: one entry of the coalesced ring. */
    public static final StructLayout COALESCED_MMIO = structLayout(
            JAVA_LONG.withName("phys_addr"), JAVA_INT.withName("len"), JAVA_INT.withName("pio"),
            sequenceLayout(8, JAVA_BYTE).withName("data")).withName("kvm_coalesced_mmio");
}
