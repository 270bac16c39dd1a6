/*
 * keyboard: the i8042's keyboard, driven the way an OS driver does it, with
 * key presses taken on IRQ 1.
 *
 * Sets up the IDT and the PICs (only IRQ 1 -> vector 0x21 open), runs the
 * controller's self test (0xAA -> 0x55), turns on the keyboard interrupt
 * with translation in the configuration byte, resets the keyboard (0xFF ->
 * 0xFA 0xAA) and asks its id (0xF2 -> 0xFA 0xAB 0x41), all by polling with
 * the interrupt still off, then prints "keyboard ready" and sleeps in hlt.
 * The IRQ 1 handler reads one byte per interrupt. After `keys` bytes
 * (default 8: Ctrl+Alt+Del pressed and released, translated to set 1) it
 * prints "keyboard irqs=N codes=0x.. 0x.. ..." and exits 0.
 *
 * Failures never hang: a wrong answer prints what was expected and exits 2,
 * an exception or an unexpected vector exits 3, an IRQ with nothing to read
 * is counted ("empty=N" in the summary).
 */
#include "common/irq.h"

#define KBD_IRQ         1
#define VEC_KBD         (PIC1_BASE + KBD_IRQ)    /* 0x21 */
#define I8042_DATA      0x60
#define I8042_STATUS    0x64
#define I8042_COMMAND   0x64
#define STATUS_OUT_FULL 0x01
#define STATUS_IN_FULL  0x02
#define MAX_KEYS        64

static volatile uint64_t irqs, empty, count;
static volatile uint8_t codes[MAX_KEYS];
static uint64_t wanted;

static void expect(const char *what, uint8_t got, uint8_t want)
{
	if (got == want)
		return;
	serial_puts("keyboard: ");
	serial_puts(what);
	serial_puts(" answered ");
	print_hex(got, 2);
	serial_puts(", not ");
	print_hex(want, 2);
	serial_puts("\n");
	guest_exit(2);
}

/* A byte from the output buffer, polling; 0x100 when none comes. */
static unsigned read_polled(void)
{
	for (int i = 0; i < 100000; i++)
		if (inb(I8042_STATUS) & STATUS_OUT_FULL)
			return inb(I8042_DATA);
	return 0x100;
}

static void write_port(uint16_t port, uint8_t v)
{
	for (int i = 0; i < 100000 && (inb(I8042_STATUS) & STATUS_IN_FULL); i++)
		;
	outb(port, v);
}

static void kbd_irq(void)
{
	irqs = irqs + 1;
	if (!(inb(I8042_STATUS) & STATUS_OUT_FULL)) {
		empty = empty + 1;
	} else {
		uint8_t c = inb(I8042_DATA);
		uint64_t n = count;

		if (n < MAX_KEYS)
			codes[n] = c;
		count = n + 1;
	}
	outb(PIC1_CMD, PIC_EOI);
}

void isr_dispatch(uint64_t vector)
{
	if (vector == VEC_KBD)
		kbd_irq();
	else if (vector == VEC_SPURIOUS)
		;       /* neither the PIC's nor the LAPIC's spurious vector takes an EOI */
	else if (vector < 32)
		fail("keyboard: exception ", vector, 3);
	else
		fail("keyboard: unexpected vector ", vector, 3);
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	wanted = cmdline_u64("keys", 8);
	if (wanted > MAX_KEYS)
		wanted = MAX_KEYS;
	idt_init();
	pic_init(1u << KBD_IRQ);
	lapic_virtual_wire();

	write_port(I8042_COMMAND, 0xAA);
	expect("controller self test", read_polled(), 0x55);
	write_port(I8042_COMMAND, 0x60);
	write_port(I8042_DATA, 0x44);               /* translation, system flag; interrupt still off */
	write_port(I8042_DATA, 0xFF);
	expect("keyboard reset", read_polled(), 0xFA);
	expect("keyboard self test", read_polled(), 0xAA);
	write_port(I8042_DATA, 0xF2);
	expect("identify", read_polled(), 0xFA);
	expect("id byte 1", read_polled(), 0xAB);
	expect("id byte 2 (translated)", read_polled(), 0x41);
	write_port(I8042_COMMAND, 0x60);
	write_port(I8042_DATA, 0x45);               /* and now the keyboard interrupt */
	serial_puts("keyboard ready\n");

	for (;;) {
		__asm__ volatile("cli" : : : "memory");
		if (count >= wanted)
			break;
		/* sti's one-instruction shadow: no IRQ slips in before hlt. */
		__asm__ volatile("sti; hlt" : : : "memory");
	}

	serial_puts("keyboard irqs=");
	print_u64(irqs);
	serial_puts(" empty=");
	print_u64(empty);
	serial_puts(" codes=");
	for (uint64_t i = 0; i < wanted; i++) {
		print_hex(codes[i], 2);
		serial_puts(i + 1 < wanted ? " " : "\n");
	}
	return 0;
}
