/*
 * echo: interrupt-driven serial echo. Shows that the VMM's COM1 raises
 * IRQ 4 and that it reaches the CPU through the in-kernel 8259A PIC.
 *
 * Sets up a 48-entry IDT (exceptions 0-31, PIC vectors 0x20-0x2F), programs
 * the PICs (master base 0x20, slave base 0x28, everything masked except
 * IRQ 4 -> vector 0x24) and the UART (8N1, FIFOs on, OUT2, received-data
 * interrupt), prints "echo ready", then sleeps in hlt with interrupts on.
 * The IRQ 4 handler echoes every byte it reads until it sees 'q'; the main
 * loop then prints "echo irqs=N bytes=M" (M excludes the 'q') and exits 0.
 *
 * Failures never hang: an exception prints "echo: exception N" and exits 3,
 * any other unmasked-by-mistake vector prints "echo: unexpected vector N"
 * and exits 3, more than 100000 IRQs print "echo: irq storm" and exit 4.
 *
 * The PIC's INTR reaches the CPU through the LAPIC's LINT0 (virtual wire).
 * KVM's own reset leaves the BSP's LVT LINT0 in ExtINT mode, unmasked, and
 * then the LAPIC is not touched. QEMU resets the LAPIC itself and leaves
 * LINT0 masked (with the LAPIC software-disabled, which forces every LVT
 * masked); only then the LAPIC is software-enabled (spurious vector 0x27)
 * and LINT0 set to ExtINT, unmasked.
 */
#include "common/lib.h"

#define SEL_CODE64      0x08    /* 64-bit code segment in start.S's GDT */

#define PIC1_CMD        0x20
#define PIC1_DATA       0x21
#define PIC2_CMD        0xA0
#define PIC2_DATA       0xA1
#define PIC_EOI         0x20
#define PIC1_BASE       0x20
#define PIC2_BASE       0x28

#define COM1_IRQ        4
#define VEC_COM1        (PIC1_BASE + COM1_IRQ)   /* 0x24 */
#define VEC_SPURIOUS    (PIC1_BASE + 7)          /* master's spurious IRQ 7 */
#define NVEC            48                       /* 0..0x2F */

#define UART_RBR        (PORT_COM1 + 0)
#define UART_THR        (PORT_COM1 + 0)
#define UART_IER        (PORT_COM1 + 1)
#define UART_IIR        (PORT_COM1 + 2)
#define UART_FCR        (PORT_COM1 + 2)
#define UART_LCR        (PORT_COM1 + 3)
#define UART_MCR        (PORT_COM1 + 4)
#define UART_LSR        (PORT_COM1 + 5)
#define LSR_DR          0x01

#define IRQ_LIMIT       100000

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

static struct idt_gate idt[NVEC] __attribute__((aligned(16)));

static volatile uint64_t irqs, bytes;
static volatile int done;

/*
 * One 16-byte stub per vector: push the vector number, jump to the common
 * entry. The common entry saves the caller-saved registers (plus %rbp, used
 * to realign the stack), calls isr_dispatch(vector), restores and irets.
 * Exceptions that push an error code never return, so the extra word on
 * their stack does not matter.
 */
void isr_dispatch(uint64_t vector);
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

static __attribute__((noreturn)) void fail(const char *what, uint64_t n, int status)
{
	serial_puts(what);
	print_u64(n);
	serial_puts("\n");
	guest_exit(status);
}

static void com1_irq(void)
{
	uint64_t n = irqs + 1;

	irqs = n;
	if (n > IRQ_LIMIT) {
		serial_puts("echo: irq storm\n");
		guest_exit(4);
	}
	(void)inb(UART_IIR);
	while (inb(UART_LSR) & LSR_DR) {
		uint8_t c = inb(UART_RBR);

		if (done)
			continue;       /* after 'q': drain, so the line drops */
		if (c == 'q') {
			done = 1;
			continue;
		}
		bytes = bytes + 1;
		serial_putc((char)c);
	}
	outb(PIC1_CMD, PIC_EOI);
}

void isr_dispatch(uint64_t vector)
{
	if (vector == VEC_COM1)
		com1_irq();
	else if (vector == VEC_SPURIOUS)
		;       /* PIC spurious IRQ 7 (IRQ 7 itself is masked) or
			 * LAPIC spurious vector: neither takes an EOI */
	else if (vector < 32)
		fail("echo: exception ", vector, 3);
	else
		fail("echo: unexpected vector ", vector, 3);
}

static void idt_init(void)
{
	struct idt_ptr p;

	for (int v = 0; v < NVEC; v++) {
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

static void pic_init(void)
{
	outb(PIC1_CMD, 0x11);           /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC1_BASE);     /* ICW2: vector base */
	outb(PIC2_DATA, PIC2_BASE);
	outb(PIC1_DATA, 0x04);          /* ICW3: slave on master's IRQ 2 */
	outb(PIC2_DATA, 0x02);          /* ICW3: slave identity 2 */
	outb(PIC1_DATA, 0x01);          /* ICW4: 8086 mode, normal EOI */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, (uint8_t)~(1u << COM1_IRQ));   /* OCW1: only IRQ 4 */
	outb(PIC2_DATA, 0xFF);
}

static void lapic_init(void)
{
	uint32_t lvt0 = mmio_read32(LAPIC_LVT0);

	if (!(lvt0 & LVT_MASKED) && (lvt0 & LVT_MODE_MASK) == LVT_EXTINT)
		return;         /* virtual wire already */
	mmio_write32(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	mmio_write32(LAPIC_LVT0, LVT_EXTINT);
}

static void uart_init(void)
{
	outb(UART_LCR, 0x03);           /* 8N1, DLAB off */
	outb(UART_FCR, 0x07);           /* FIFOs on, both cleared */
	outb(UART_MCR, 0x0B);           /* DTR | RTS | OUT2 (IRQ gate on a PC) */
	outb(UART_IER, 0x01);           /* received-data interrupt */
	(void)inb(UART_IIR);
	(void)inb(UART_LSR);
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	idt_init();
	pic_init();
	lapic_init();
	uart_init();
	serial_puts("echo ready\n");

	for (;;) {
		__asm__ volatile("cli" : : : "memory");
		if (done)
			break;
		/* sti's one-instruction shadow: no IRQ slips in before hlt. */
		__asm__ volatile("sti; hlt" : : : "memory");
	}

	serial_puts("\necho irqs=");
	print_u64(irqs);
	serial_puts(" bytes=");
	print_u64(bytes);
	serial_puts("\n");
	return 0;
}
