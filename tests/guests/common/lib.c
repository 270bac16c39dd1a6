/* Minimal freestanding runtime for the actorvm test guests. */
#include "lib.h"

#define UART_THR (PORT_COM1 + 0)
#define UART_LSR (PORT_COM1 + 5)
#define LSR_THRE 0x20
/* Bounded so a UART that never reports THRE cannot hang the guest. */
#define UART_MAX_POLLS 1000

const struct hvm_start_info *boot_info;

void guest_start(const struct hvm_start_info *si)
{
	boot_info = si;
	guest_exit(guest_main(si));
}

void guest_exit(int status)
{
	/* isa-debug-exit style port; a VMM that handles it stops us here. */
	outb(PORT_DEBUG_EXIT, (uint8_t)status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void serial_putc(char c)
{
	for (int i = 0; i < UART_MAX_POLLS; i++)
		if (inb(UART_LSR) & LSR_THRE)
			break;
	outb(UART_THR, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void print_u64(uint64_t v)
{
	char buf[21];
	int i = sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	serial_puts(&buf[i]);
}

void print_hex(uint64_t v, int min_digits)
{
	char buf[19];
	int i = sizeof(buf) - 1;
	int n = 0;

	buf[i] = '\0';
	do {
		buf[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
		n++;
	} while (v || (n < min_digits && n < 16));
	buf[--i] = 'x';
	buf[--i] = '0';
	serial_puts(&buf[i]);
}

const char *cmdline_get(void)
{
	const struct hvm_start_info *si = boot_info;

	if (!si || si->magic != HVM_START_MAGIC || !si->cmdline_paddr)
		return "";
	/* Identity mapping: physical address == virtual address (< 4 GiB). */
	return (const char *)(uintptr_t)si->cmdline_paddr;
}

const char *cmdline_str(const char *name)
{
	const char *p = cmdline_get();

	while (*p) {
		while (*p == ' ')
			p++;
		/* Does this token start with "name="? */
		const char *n = name;
		const char *t = p;
		while (*n && *t == *n) {
			n++;
			t++;
		}
		if (!*n && *t == '=')
			return t + 1;
		while (*p && *p != ' ')     /* skip to the next token */
			p++;
	}
	return NULL;
}

uint64_t cmdline_u64(const char *name, uint64_t def)
{
	const char *t = cmdline_str(name);

	if (!t || *t < '0' || *t > '9')
		return def;
	uint64_t v = 0;
	while (*t >= '0' && *t <= '9')
		v = v * 10 + (uint64_t)(*t++ - '0');
	return (*t == '\0' || *t == ' ') ? v : def;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}
