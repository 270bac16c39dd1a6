/*
 * counter: increments a 64-bit counter in guest RAM forever; prints
 * "count N" every `every` iterations (default 100000) and exits 0 once the
 * counter reaches `limit` (default 0 = never).
 *
 * With rest=MS (default 0: never) it halts about MS milliseconds after each
 * line, woken by the PIT (KVM's in-kernel i8254, one-shot, through the PIC):
 * a counter that leaves the CPU to others most of the time, as the cluster
 * tests need on the emulated KVM host's one CPU. The PIT and PIC state then
 * travel with snapshots and migrations: a VMM that lost them leaves the
 * guest halted for good, and its count stops.
 *
 * guest_counter is a global (symbol in the ELF) and volatile, so every
 * increment is a real store a VMM can observe in guest memory.
 */
#include "common/lib.h"
#include "common/irq.h"

#define PIT_CH0         0x40
#define PIT_CMD         0x43
#define PIT_HZ          1193182u
#define PIT_IRQ         0
#define PIT_MAX_MS      50              /* 59659 ticks: the 16-bit count's limit is ~54.9 ms */

volatile uint64_t guest_counter;
static volatile int pit_fired;

void isr_dispatch(uint64_t vector)
{
	if (vector == PIC1_BASE + PIT_IRQ) {
		pit_fired = 1;
		outb(PIC1_CMD, PIC_EOI);
	} else if (vector == VEC_SPURIOUS) {
		;       /* takes no EOI */
	} else if (vector < 32) {
		fail("counter: exception ", vector, 3);
	} else {
		fail("counter: unexpected vector ", vector, 3);
	}
}

/* Halts about ms milliseconds: PIT channel 0 in mode 0 (one IRQ 0 at terminal count), 50 ms a shot. */
static void rest(uint64_t ms)
{
	while (ms > 0) {
		uint64_t shot = ms > PIT_MAX_MS ? PIT_MAX_MS : ms;
		uint32_t count = (uint32_t)(PIT_HZ * shot / 1000);

		pit_fired = 0;
		outb(PIT_CMD, 0x30);    /* channel 0, low then high byte, mode 0, binary */
		outb(PIT_CH0, count & 0xff);
		outb(PIT_CH0, (count >> 8) & 0xff);
		for (;;) {
			__asm__ volatile("cli" : : : "memory");
			if (pit_fired)
				break;
			/* sti's one-instruction shadow: the IRQ cannot slip in before hlt. */
			__asm__ volatile("sti; hlt" : : : "memory");
		}
		ms -= shot;
	}
}

int guest_main(const struct hvm_start_info *si)
{
	uint64_t every = cmdline_u64("every", 100000);
	uint64_t limit = cmdline_u64("limit", 0);
	uint64_t pause_ms = cmdline_u64("rest", 0);
	uint64_t left;

	(void)si;
	if (every == 0)
		every = 1;
	if (pause_ms > 0) {
		idt_init();
		pic_init(1u << PIT_IRQ);
		lapic_virtual_wire();
	}
	left = every;               /* countdown instead of a division per loop */
	for (;;) {
		uint64_t c = guest_counter + 1;

		guest_counter = c;
		if (--left == 0) {
			left = every;
			serial_puts("count ");
			print_u64(c);
			serial_puts("\n");
			if (pause_ms > 0)
				rest(pause_ms);
		}
		if (c == limit)
			return 0;
	}
}
