/*
 * dirtier: a guest for live-migration benchmarks. Fills mb=N MiB of RAM from
 * 32 MiB up with non-zero bytes (so a migration has every page to copy, as for
 * a guest that has used its memory), prints "dirtier: filled", then for ever
 * writes one 8-byte word into each of pages=P consecutive pages (wrapping
 * within the N MiB) and spins spin=S pause loops: a fixed amount of work per
 * pass, so the dirty rate is the same under any VMM on the same CPU (pages=0
 * leaves the guest idle in the spin loop). Prints "dirtier: pass K" every
 * report=R passes (default 0: never; each line is an exit).
 */
#include "common/lib.h"

#define BASE (32ull << 20)

int guest_main(const struct hvm_start_info *si)
{
	uint64_t mb = cmdline_u64("mb", 64);
	uint64_t per_pass = cmdline_u64("pages", 0);
	uint64_t spin = cmdline_u64("spin", 100000);
	uint64_t report = cmdline_u64("report", 0);
	volatile uint64_t *base = (volatile uint64_t *)BASE;
	uint64_t pages = mb << 8, next = 0, pass = 0;

	(void)si;
	if (mb == 0 || BASE + (mb << 20) > (3ull << 30)) {
		serial_puts("dirtier: mb must be between 1 and 3040\n");
		return 1;
	}
	for (uint64_t w = 0; w < (mb << 20) / 8; w++)
		base[w] = w * 0x9E3779B97F4A7C15ull | 1;
	serial_puts("dirtier: filled\n");
	for (;;) {
		pass++;
		for (uint64_t i = 0; i < per_pass; i++) {
			base[next << 9] = pass;  /* 512 words per page */
			if (++next == pages)
				next = 0;
		}
		for (uint64_t s = 0; s < spin; s++)
			__asm__ volatile("pause");
		if (report && pass % report == 0) {
			serial_puts("dirtier: pass ");
			print_u64(pass);
			serial_puts("\n");
		}
	}
}
