/*
 * memtouch: what host huge pages do for a guest that uses much memory.
 * Touches mb=N MiB of RAM from 32 MiB up (the guest needs --memory of at
 * least 32+N MiB), first page by page, so every page is a first touch the
 * host must fault in, then rounds=R passes of reads at pseudo-random pages,
 * which miss the TLB. The guest maps it all with 2 MiB pages; whether the
 * host's nested page tables do too is what --hugepages changes. Each phase
 * begins with a console line ("memtouch: touch", "memtouch: random", then
 * "memtouch: done"), so a benchmark times it from the lines' arrival.
 */
#include "common/lib.h"

#define BASE (32ull << 20)

int guest_main(const struct hvm_start_info *si)
{
	uint64_t mb = cmdline_u64("mb", 64);
	uint64_t rounds = cmdline_u64("rounds", 4);
	volatile uint8_t *base = (volatile uint8_t *)BASE;
	uint64_t bytes = mb << 20, pages = mb << 8, x = 1, sum = 0;

	(void)si;
	if (mb == 0 || BASE + bytes > (3ull << 30)) {
		serial_puts("memtouch: mb must be between 1 and 3040\n");
		return 1;
	}
	serial_puts("memtouch: touch\n");
	for (uint64_t p = 0; p < bytes; p += 4096)
		base[p] = (uint8_t)(p >> 12);
	serial_puts("memtouch: random\n");
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint64_t i = 0; i < pages; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			sum += base[(((x >> 33) % pages) << 12) | ((x >> 20) & 0xFC0)];
		}
	}
	serial_puts("memtouch: done\n");
	serial_puts("memtouch: sum=");
	print_u64(sum);
	serial_puts("\n");
	return 0;
}
