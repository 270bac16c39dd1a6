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
 * The interrupt plumbing (IDT, PICs, LAPIC virtual wire) is common/irq.c.
 */
#include "common/irq.h"

#define COM1_IRQ        4
#define VEC_COM1        (PIC1_BASE + COM1_IRQ)   /* 0x24 */

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

static volatile uint64_t irqs, bytes;
static volatile int done;

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
	pic_init(1u << COM1_IRQ);
	lapic_virtual_wire();
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
