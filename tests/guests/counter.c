/*
 * counter: increments a 64-bit counter in guest RAM forever; prints
 * "count N" every `every` iterations (default 100000) and exits 0 once the
 * counter reaches `limit` (default 0 = never).
 *
 * guest_counter is a global (symbol in the ELF) and volatile, so every
 * increment is a real store a VMM can observe in guest memory.
 */
#include "common/lib.h"

volatile uint64_t guest_counter;

int guest_main(const struct hvm_start_info *si)
{
	uint64_t every = cmdline_u64("every", 100000);
	uint64_t limit = cmdline_u64("limit", 0);
	uint64_t left;

	(void)si;
	if (every == 0)
		every = 1;
	left = every;               /* countdown instead of a division per loop */
	for (;;) {
		uint64_t c = guest_counter + 1;

		guest_counter = c;
		if (--left == 0) {
			left = every;
			serial_puts("count ");
			print_u64(c);
			serial_puts("\n");
		}
		if (c == limit)
			return 0;
	}
}
