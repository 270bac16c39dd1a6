/*
 * The IDT, the PICs and the LAPIC's virtual wire (see irq.h).
 *
 * The PIC's INTR reaches the CPU through the LAPIC's LINT0 (virtual wire).
 * KVM's own reset leaves the BSP's LVT LINT0 in ExtINT mode, unmasked, and
 * then the LAPIC is not touched. QEMU resets the LAPIC itself and leaves
 * LINT0 masked (with the LAPIC software-disabled, which forces every LVT
 * masked); only then the LAPIC is software-enabled (spurious vector 0x27)
 * and LINT0 set to ExtINT, unmasked.
 */
#include "irq.h"

#define SEL_CODE64      0x08    /* 64-bit code segment in start.S's GDT */

#define LAPIC_BASE      0xFEE00000ull   /* uncached in start.S's page tables */
#define LAPIC_SVR       (LAPIC_BASE + 0xF0)
#define LAPIC_LVT0      (LAPIC_BASE + 0x350)
#define SVR_ENABLE      0x100
#define LVT_MASKED      0x10000
#define LVT_MODE_MASK   0x700
#define LVT_EXTINT      0x700

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;           /* 0x8E: present, DPL 0, 64-bit interrupt gate */
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
} __attribute__((packed));

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static struct idt_gate idt[IRQ_VECTORS] __attribute__((aligned(16)));

/*
 * One 16-byte stub per vector: push the vector number, jump to the common
 * entry. The common entry saves the caller-saved registers (plus %rbp, used
 * to realign the stack), calls isr_dispatch(vector), restores and irets.
 * Exceptions that push an error code never return, so the extra word on
 * their stack does not matter.
 */
extern const char isr_stubs[];

__asm__(
	"	.text\n"
	"	.balign 16\n"
	"	.globl isr_stubs\n"
	"isr_stubs:\n"
	"	.set vec, 0\n"
	"	.rept 48\n"
	"	.balign 16\n"
	"	pushq $vec\n"
	"	jmp isr_common\n"
	"	.set vec, vec + 1\n"
	"	.endr\n"
	"isr_common:\n"
	"	pushq %rax\n"
	"	pushq %rcx\n"
	"	pushq %rdx\n"
	"	pushq %rsi\n"
	"	pushq %rdi\n"
	"	pushq %r8\n"
	"	pushq %r9\n"
	"	pushq %r10\n"
	"	pushq %r11\n"
	"	pushq %rbp\n"
	"	movq 80(%rsp), %rdi\n"          /* the vector pushed by the stub */
	"	movq %rsp, %rbp\n"
	"	andq $-16, %rsp\n"
	"	cld\n"
	"	call isr_dispatch\n"
	"	movq %rbp, %rsp\n"
	"	popq %rbp\n"
	"	popq %r11\n"
	"	popq %r10\n"
	"	popq %r9\n"
	"	popq %r8\n"
	"	popq %rdi\n"
	"	popq %rsi\n"
	"	popq %rdx\n"
	"	popq %rcx\n"
	"	popq %rax\n"
	"	addq $8, %rsp\n"                /* drop the vector */
	"	iretq\n"
);

void fail(const char *what, uint64_t n, int status)
{
	serial_puts(what);
	print_u64(n);
	serial_puts("\n");
	guest_exit(status);
}

void idt_init(void)
{
	struct idt_ptr p;

	for (int v = 0; v < IRQ_VECTORS; v++) {
		uint64_t a = (uint64_t)(uintptr_t)(isr_stubs + 16 * v);

		idt[v].off_lo = (uint16_t)a;
		idt[v].sel = SEL_CODE64;
		idt[v].ist = 0;
		idt[v].type = 0x8E;
		idt[v].off_mid = (uint16_t)(a >> 16);
		idt[v].off_hi = (uint32_t)(a >> 32);
		idt[v].reserved = 0;
	}
	p.limit = sizeof(idt) - 1;
	p.base = (uint64_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void pic_init(uint8_t unmasked_irqs)
{
	outb(PIC1_CMD, 0x11);           /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC1_BASE);     /* ICW2: vector base */
	outb(PIC2_DATA, PIC2_BASE);
	outb(PIC1_DATA, 0x04);          /* ICW3: slave on master's IRQ 2 */
	outb(PIC2_DATA, 0x02);          /* ICW3: slave identity 2 */
	outb(PIC1_DATA, 0x01);          /* ICW4: 8086 mode, normal EOI */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, (uint8_t)~unmasked_irqs);   /* OCW1 */
	outb(PIC2_DATA, 0xFF);
}

void lapic_virtual_wire(void)
{
	uint32_t lvt0 = mmio_read32(LAPIC_LVT0);

	if (!(lvt0 & LVT_MASKED) && (lvt0 & LVT_MODE_MASK) == LVT_EXTINT)
		return;         /* virtual wire already */
	mmio_write32(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	mmio_write32(LAPIC_LVT0, LVT_EXTINT);
}
