/*
 * exits: N port writes, N port reads, N MMIO writes (cmdline n=N, default
 * 1000), each phase bracketed by POST codes and begun by a console line
 * ("exits: out", "exits: in", "exits: mmio", then "exits: done"), so a
 * benchmark can time each phase from the lines' arrival; then one summary line.
 * Port 0x6E0 and MMIO 0xD0000000 are meant to be unassigned, so every
 * access is a VM exit the VMM has to complete. port=P (decimal) moves the
 * port phases to another port: port=1023 is COM1's scratch register, so each
 * access reaches a device model (what a device recording records).
 */
#include "common/lib.h"

#define TEST_PORT 0x6E0
#define TEST_MMIO 0xD0000000ull

int guest_main(const struct hvm_start_info *si)
{
	uint64_t n = cmdline_u64("n", 1000);
	uint16_t port = (uint16_t)cmdline_u64("port", TEST_PORT);
	uint64_t out = 0, in = 0, mmio = 0;
	uint8_t in_or = 0;

	(void)si;
	serial_puts("exits: out\n");
	post_code(0x10);
	for (; out < n; out++)
		outb(port, (uint8_t)out);
	post_code(0x11);
	serial_puts("exits: in\n");
	for (; in < n; in++)
		in_or |= inb(port);    /* inb is volatile asm: never dropped */
	post_code(0x12);
	serial_puts("exits: mmio\n");
	for (; mmio < n; mmio++)
		mmio_write32(TEST_MMIO, (uint32_t)mmio);
	post_code(0x13);
	serial_puts("exits: done\n");

	serial_puts("exits pio_out=");
	print_u64(out);
	serial_puts(" pio_in=");
	print_u64(in);
	serial_puts(" mmio_out=");
	print_u64(mmio);
	serial_puts(" in_or=");
	print_hex(in_or, 2);
	serial_puts("\n");
	return 0;
}
