/* Minimal freestanding runtime for the actorvm test guests. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdint.h>
#include <stddef.h>

/* PVH boot info passed in %ebx (Xen public/arch-x86/hvm/start_info.h). */
#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;      /* version >= 1 */
	uint32_t memmap_entries;    /* version >= 1 */
	uint32_t reserved;
};

/* Ports / addresses used by the guests. */
#define PORT_COM1       0x3F8
#define PORT_DEBUG_EXIT 0x501
#define PORT_POST       0x80

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)addr = v;
}
static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}

static inline void post_code(uint8_t v)
{
	outb(PORT_POST, v);
}

void serial_putc(char c);
void serial_puts(const char *s);
void print_u64(uint64_t v);                   /* decimal */
void print_hex(uint64_t v, int min_digits);   /* "0x" + lower-case hex */

__attribute__((noreturn)) void guest_exit(int status);

/* start_info as passed in %ebx (set before guest_main runs). */
extern const struct hvm_start_info *boot_info;

/* Command line from start_info; "" if magic is wrong or there is none. */
const char *cmdline_get(void);
/* Value of "name=DECIMAL" in the command line, or def if absent/invalid. */
uint64_t cmdline_u64(const char *name, uint64_t def);
/* Start of the value of the first "name=..." token (it ends at a space or
 * at the end of the string), or NULL if there is none. */
const char *cmdline_str(const char *name);

/* Provided by each guest; its return value becomes the exit status. */
int guest_main(const struct hvm_start_info *si);

/* Called by start.S in long mode: records si, runs guest_main, exits. */
__attribute__((noreturn)) void guest_start(const struct hvm_start_info *si);

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif
