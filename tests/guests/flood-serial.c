/*
 * flood-serial: a guest that writes to COM1 as fast as the CPU allows.
 * Prints "flood-serial start", then loops on `rep outsb` of a 4 KiB page
 * of text to THR (0x3F8) without ever polling LSR, printing nothing else.
 * Runs until the VMM stops it. Each `rep outsb` is one exit carrying 4096
 * bytes, so a VMM that queues guest writes without a bound grows without
 * one.
 */
#include "common/lib.h"

static uint8_t page[4096];

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	for (unsigned i = 0; i < sizeof(page); i++)
		page[i] = (i % 64 == 63) ? '\n' : (uint8_t)('a' + i % 26);
	serial_puts("flood-serial start\n");
	for (;;) {
		const uint8_t *p = page;
		uint64_t n = sizeof(page);

		__asm__ volatile("rep outsb"
				 : "+S"(p), "+c"(n)
				 : "d"((uint16_t)PORT_COM1)
				 : "memory");
	}
}
