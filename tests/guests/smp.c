/*
 * smp: start every application processor (AP) listed in the ACPI MADT.
 *
 * The bootstrap CPU (BSP) finds the RSDP (start_info.rsdp_paddr, else the
 * first KiB of the EBDA and 0xE0000-0xFFFFF), follows the XSDT or RSDT to
 * the MADT and collects the APIC ids of the enabled processors (type 0,
 * local APIC, and type 9, x2APIC). It prints "smp: N cpus in MADT",
 * software-enables its own LAPIC (KVM's in-kernel LAPIC drops IPIs sent
 * from a software-disabled one), copies a real-mode trampoline to 0x10000
 * and sends INIT, SIPI, SIPI (vector 0x10) to every other APIC id.
 *
 * Each AP runs the trampoline: real mode -> protected mode -> long mode on
 * the BSP's page tables, takes a 4 KiB stack from a static array and calls
 * ap_main(), which prints "cpu <apic id> online" under a spinlock, counts
 * itself in and halts.
 *
 * The BSP prints "smp: all N cpus online" and exits 0 once every AP has
 * checked in. After 30 s it prints "smp: only K of N cpus checked in" and
 * exits 1 instead (K includes the BSP). No MADT: "smp: no MADT", exit 2.
 * A LAPIC that is globally disabled, in x2APIC mode or above 4 GiB: exit 3.
 *
 * Delays poll PIT channel 0's counter: channel 2 would need port 0x61,
 * which neither actorvm nor QEMU's microvm decodes. Without a working PIT
 * they fall back to a busy loop. Every table walk is bounded by the
 * table's length, so a hostile MADT cannot hang or crash the guest.
 */
#include "common/lib.h"

#define STR_(x)         #x
#define STR(x)          STR_(x)

#define MAX_CPUS        256
#define MAX_AP_STACKS   (MAX_CPUS - 1)
#define AP_STACK_SIZE   4096

/* Trampoline page: below 1 MiB, clear of the VMM's boot structures. */
#define TRAMP_BASE      0x10000
#define SIPI_VECTOR     (TRAMP_BASE >> 12)

#define LAPIC_DEFAULT   0xFEE00000u     /* uncached in start.S's page tables */
#define LAPIC_ID        0x20
#define LAPIC_SVR       0xF0
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define SVR_ENABLE      0x100
#define SPURIOUS_VEC    0xFF
#define ICR_PENDING     0x1000          /* delivery status */
#define ICR_INIT        0x00004500      /* INIT, assert, edge, physical */
#define ICR_SIPI        0x00004600      /* start-up, assert, edge, physical */

#define MSR_APIC_BASE   0x1B
#define APIC_BASE_X2    (1u << 10)
#define APIC_BASE_EN    (1u << 11)

#define PIT_CH0         0x40
#define PIT_CMD         0x43
#define PIT_HZ          1193182u

/* Tables are small (a MADT for 256 CPUs is ~2 KiB); refuse absurd lengths. */
#define ACPI_MAX_TABLE  0x10000u
#define ACPI_HDR_LEN    36
#define MADT_ENTRIES    44

/* ---------------------------------------------------------------- AP boot */

/*
 * The trampoline is assembled here but runs as a copy at TRAMP_BASE, so it
 * uses only absolute addresses computed from TRAMP_BASE (the SIPI starts
 * the AP at CS = TRAMP_BASE >> 4, IP = 0). Its GDT stays in use after the
 * AP reaches long mode; selectors match start.S (0x08 code64, 0x10 data).
 * After INIT, CR0 has CD|NW set: both are cleared by writing CR0 whole.
 * ap_entry64 is ordinary code in the image at 1 MiB.
 */
__asm__(
	"	.pushsection .text\n"
	"	.balign 16\n"
	"	.globl smp_tramp_start, smp_tramp_end, smp_tramp_cr3\n"
	"smp_tramp_start:\n"
	"	.code16\n"
	"	cli\n"
	"	cld\n"
	"	movw %cs, %ax\n"
	"	movw %ax, %ds\n"
	"	lgdtl (tramp_gdt_ptr - smp_tramp_start)\n"
	"	movl $0x00000031, %eax\n"              /* PE | ET | NE */
	"	movl %eax, %cr0\n"
	"	ljmpl $0x18, $(" STR(TRAMP_BASE) " + tramp_pm32 - smp_tramp_start)\n"
	"	.code32\n"
	"tramp_pm32:\n"
	"	movl $0x10, %eax\n"
	"	movl %eax, %ds\n"
	"	movl %eax, %es\n"
	"	movl %eax, %ss\n"
	"	movl %eax, %fs\n"
	"	movl %eax, %gs\n"
	"	movl $0x20, %eax\n"                    /* CR4.PAE */
	"	movl %eax, %cr4\n"
	"	movl (" STR(TRAMP_BASE) " + smp_tramp_cr3 - smp_tramp_start), %eax\n"
	"	movl %eax, %cr3\n"
	"	movl $0xC0000080, %ecx\n"              /* EFER.LME */
	"	rdmsr\n"
	"	orl $0x100, %eax\n"
	"	wrmsr\n"
	"	movl $0x80000031, %eax\n"              /* PG | PE | ET | NE */
	"	movl %eax, %cr0\n"
	"	ljmp $0x08, $(" STR(TRAMP_BASE) " + tramp_lm64 - smp_tramp_start)\n"
	"	.code64\n"
	"tramp_lm64:\n"
	"	movl $ap_entry64, %eax\n"
	"	jmp *%rax\n"
	"	.balign 8\n"
	"tramp_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00AF9B000000FFFF\n"            /* 0x08: 64-bit code */
	"	.quad 0x00CF93000000FFFF\n"            /* 0x10: flat data */
	"	.quad 0x00CF9B000000FFFF\n"            /* 0x18: flat 32-bit code */
	"tramp_gdt_end:\n"
	"	.balign 4\n"
	"tramp_gdt_ptr:\n"
	"	.word tramp_gdt_end - tramp_gdt - 1\n"
	"	.long " STR(TRAMP_BASE) " + tramp_gdt - smp_tramp_start\n"
	"	.balign 4\n"
	"smp_tramp_cr3:\n"
	"	.long 0\n"                             /* patched by the BSP */
	"smp_tramp_end:\n"
	"\n"
	/* Long mode, still without a stack: take one, then run ap_main. */
	"	.balign 16\n"
	"ap_entry64:\n"
	"	movl $1, %eax\n"
	"	lock xaddl %eax, ap_stack_next\n"
	"	cmpl $" STR(MAX_AP_STACKS) ", %eax\n"
	"	jae 1f\n"
	"	incl %eax\n"
	"	shll $12, %eax\n"                      /* (index + 1) * 4096 */
	"	leaq ap_stacks(%rax), %rsp\n"
	"	call ap_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"	.popsection\n"
	"\n"
	"	.pushsection .bss\n"
	"	.balign 4096\n"
	"ap_stacks:\n"
	"	.skip " STR(MAX_AP_STACKS) " * " STR(AP_STACK_SIZE) "\n"
	"	.balign 4\n"
	"ap_stack_next:\n"
	"	.skip 4\n"
	"	.popsection\n"
);

extern const char smp_tramp_start[], smp_tramp_end[], smp_tramp_cr3[];

__attribute__((noreturn)) void ap_main(void);

static uint64_t lapic_base = LAPIC_DEFAULT;
static volatile uint32_t print_lock;
static volatile uint32_t checked_in;            /* APs, not the BSP */
static volatile uint8_t seen[MAX_CPUS];         /* per APIC id: checked in */

static uint32_t cpu_ids[MAX_CPUS];
static uint32_t ncpus;

/* ---------------------------------------------------------------- helpers */

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static void lock(void)
{
	/* xchg with memory is locked implicitly. */
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		while (print_lock)
			cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(lapic_base + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(lapic_base + reg, v);
}

/*
 * Physical memory below 4 GiB is identity-mapped. The pointer is laundered
 * so gcc does not treat small constant addresses (the BDA) as null + offset.
 */
static const volatile uint8_t *phys(uint64_t addr)
{
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)addr;

	__asm__("" : "+r"(p));
	return p;
}

static uint32_t rd8(uint64_t a)
{
	return *phys(a);
}

static uint32_t rd16(uint64_t a)
{
	return rd8(a) | rd8(a + 1) << 8;
}

static uint32_t rd32(uint64_t a)
{
	return rd16(a) | rd16(a + 2) << 16;
}

static uint64_t rd64(uint64_t a)
{
	return rd32(a) | (uint64_t)rd32(a + 4) << 32;
}

/* ------------------------------------------------------------------ delay */

static int pit_broken;
static uint64_t pit_ticks;              /* since pit_init, via pit_now */
static uint32_t pit_last, pit_still;

static uint32_t pit_read(void)
{
	uint32_t lo, hi;

	outb(PIT_CMD, 0x00);            /* latch ch0 */
	lo = inb(PIT_CH0);
	hi = inb(PIT_CH0);
	return lo | hi << 8;
}

/* Channel 0 free-running: mode 2 (rate generator), reload 65536. */
static void pit_init(void)
{
	outb(PIT_CMD, 0x34);            /* ch0, lobyte/hibyte, mode 2, binary */
	outb(PIT_CH0, 0);
	outb(PIT_CH0, 0);
	pit_last = pit_read();
}

/*
 * PIT ticks since pit_init. Callers poll far more often than the counter
 * wraps (55 ms). A counter that never moves means there is no PIT:
 * pit_broken is set and callers fall back to spinning.
 */
static uint64_t pit_now(void)
{
	uint32_t cur = pit_read();

	if (cur == pit_last) {
		if (++pit_still >= 100000)
			pit_broken = 1;
	} else {
		pit_still = 0;
		pit_ticks += (pit_last - cur) & 0xFFFF;
		pit_last = cur;
	}
	return pit_ticks;
}

static void delay_us(uint32_t us)
{
	uint64_t need = (uint64_t)us * PIT_HZ / 1000000 + 1;
	uint64_t start = pit_now();

	while (!pit_broken && pit_now() - start < need)
		;
	if (!pit_broken)
		return;
	/* A few hundred cycles per iteration on hardware. */
	for (uint64_t i = 0; i < (uint64_t)us * 4; i++)
		cpu_relax();
}

/* ------------------------------------------------------------------- ACPI */

/* The range lies inside the identity map and is not absurdly large. */
static int phys_ok(uint64_t addr, uint64_t len)
{
	return addr != 0 && len <= ACPI_MAX_TABLE && addr < (1ull << 32) &&
	       len <= (1ull << 32) - addr;
}

static uint8_t checksum(uint64_t addr, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s = (uint8_t)(s + rd8(addr + i));
	return s;
}

static int sig_is(uint64_t addr, const char *sig, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (rd8(addr + i) != (uint8_t)sig[i])
			return 0;
	return 1;
}

static int rsdp_ok(uint64_t a)
{
	return phys_ok(a, 20) && sig_is(a, "RSD PTR ", 8) && checksum(a, 20) == 0;
}

/* Length of a valid table with this signature at addr, else 0. */
static uint32_t table_ok(uint64_t addr, const char *sig)
{
	uint32_t len;

	if (!phys_ok(addr, ACPI_HDR_LEN) || !sig_is(addr, sig, 4))
		return 0;
	len = rd32(addr + 4);
	if (len < ACPI_HDR_LEN || !phys_ok(addr, len) || checksum(addr, len) != 0)
		return 0;
	return len;
}

static uint64_t scan_rsdp(uint64_t from, uint64_t to)
{
	for (uint64_t a = from; a + 20 <= to; a += 16)
		if (rsdp_ok(a))
			return a;
	return 0;
}

static uint64_t find_rsdp(const struct hvm_start_info *si)
{
	uint64_t a;

	if (si && si->magic == HVM_START_MAGIC && rsdp_ok(si->rsdp_paddr))
		return si->rsdp_paddr;
	/* ACPI spec: first KiB of the EBDA (segment at 0x40E), then the BIOS. */
	a = (uint64_t)rd16(0x40E) << 4;
	if (a >= 0x80000 && a < 0xA0000) {
		a = scan_rsdp(a, a + 1024);
		if (a)
			return a;
	}
	return scan_rsdp(0xE0000, 0x100000);
}

/* Walk an XSDT (8-byte entries) or RSDT (4-byte entries) for the MADT. */
static uint64_t find_in_sdt(uint64_t sdt, const char *sig, uint32_t esize,
			    uint32_t *madt_len)
{
	uint32_t len = table_ok(sdt, sig);

	if (!len)
		return 0;
	for (uint32_t off = ACPI_HDR_LEN; off + esize <= len; off += esize) {
		uint64_t t = esize == 8 ? rd64(sdt + off) : rd32(sdt + off);

		if ((*madt_len = table_ok(t, "APIC")) != 0)
			return t;
	}
	return 0;
}

static uint64_t find_madt(uint64_t rsdp, uint32_t *len)
{
	uint64_t madt = 0;

	/* Revision 2+: XSDT at 24, if the extended checksum holds too. */
	if (rd8(rsdp + 15) >= 2) {
		uint32_t rlen = rd32(rsdp + 20);

		if (rlen >= 36 && phys_ok(rsdp, rlen) && checksum(rsdp, rlen) == 0)
			madt = find_in_sdt(rd64(rsdp + 24), "XSDT", 8, len);
	}
	if (!madt)
		madt = find_in_sdt(rd32(rsdp + 16), "RSDT", 4, len);
	return madt;
}

static void add_cpu(uint32_t id)
{
	for (uint32_t i = 0; i < ncpus; i++)
		if (cpu_ids[i] == id)
			return;                 /* listed twice */
	if (ncpus < MAX_CPUS)
		cpu_ids[ncpus++] = id;
}

static void parse_madt(uint64_t madt, uint32_t len)
{
	uint32_t off = MADT_ENTRIES;

	while (off + 2 <= len) {
		uint32_t type = rd8(madt + off);
		uint32_t elen = rd8(madt + off + 1);

		if (elen < 2 || elen > len - off)
			break;
		if (type == 0 && elen >= 8) {           /* Processor Local APIC */
			if (rd32(madt + off + 4) & 1)
				add_cpu(rd8(madt + off + 3));
		} else if (type == 9 && elen >= 16) {   /* Processor Local x2APIC */
			if (rd32(madt + off + 8) & 1)
				add_cpu(rd32(madt + off + 4));
		}
		off += elen;
	}
}

/* ------------------------------------------------------------------- IPIs */

static int icr_idle(void)
{
	for (int i = 0; i < 100000; i++) {
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_PENDING))
			return 1;
		cpu_relax();
	}
	return 0;
}

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
	icr_idle();
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	icr_idle();
}

static void start_ap(uint32_t apic_id)
{
	send_ipi(apic_id, ICR_INIT);
	delay_us(10000);
	send_ipi(apic_id, ICR_SIPI | SIPI_VECTOR);
	delay_us(200);
	send_ipi(apic_id, ICR_SIPI | SIPI_VECTOR);
	delay_us(200);
}

/* ------------------------------------------------------------------- main */

void ap_main(void)
{
	uint32_t id = lapic_read(LAPIC_ID) >> 24;

	lock();
	serial_puts("cpu ");
	print_u64(id);
	serial_puts(" online\n");
	unlock();
	/* Count each APIC id once, should an AP ever run the trampoline twice. */
	if (!__atomic_exchange_n(&seen[id], 1, __ATOMIC_ACQ_REL))
		__atomic_fetch_add(&checked_in, 1, __ATOMIC_RELEASE);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static int fail(const char *msg, int status)
{
	serial_puts(msg);
	return status;
}

int guest_main(const struct hvm_start_info *si)
{
	uint64_t rsdp, madt, apic_base, cr3, start;
	uint32_t madt_len = 0, bsp, expected = 0, bsp_listed = 0, got;

	rsdp = find_rsdp(si);
	madt = rsdp ? find_madt(rsdp, &madt_len) : 0;
	if (!madt || madt_len < MADT_ENTRIES)
		return fail("smp: no MADT\n", 2);
	parse_madt(madt, madt_len);
	serial_puts("smp: ");
	print_u64(ncpus);
	serial_puts(" cpus in MADT\n");

	apic_base = rdmsr(MSR_APIC_BASE);
	if (!(apic_base & APIC_BASE_EN))
		return fail("smp: LAPIC disabled\n", 3);
	if (apic_base & APIC_BASE_X2)
		return fail("smp: LAPIC in x2APIC mode\n", 3);
	lapic_base = apic_base & ~0xFFFull & ((1ull << 52) - 1);
	if (lapic_base >= (1ull << 32))         /* start.S maps only < 4 GiB */
		return fail("smp: LAPIC above 4 GiB\n", 3);
	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | SVR_ENABLE | SPURIOUS_VEC);
	bsp = lapic_read(LAPIC_ID) >> 24;
	pit_init();

	/* Trampoline + the BSP's page tables (all below 4 GiB, in .bss). */
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	memcpy((void *)(uintptr_t)TRAMP_BASE, smp_tramp_start,
	       (size_t)(smp_tramp_end - smp_tramp_start));
	*(volatile uint32_t *)(uintptr_t)(TRAMP_BASE + (smp_tramp_cr3 - smp_tramp_start)) =
		(uint32_t)cr3;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	for (uint32_t i = 0; i < ncpus; i++) {
		if (cpu_ids[i] == bsp) {
			bsp_listed = 1;
			continue;
		}
		expected++;
		if (cpu_ids[i] >= 0xFF) {       /* not addressable in xAPIC mode */
			lock();
			serial_puts("smp: cannot start apic id ");
			print_u64(cpu_ids[i]);
			serial_puts("\n");
			unlock();
			continue;
		}
		start_ap(cpu_ids[i]);
	}

	/* 30 s by the PIT, or 30000 spun "milliseconds" without one. */
	start = pit_now();
	for (uint32_t ms = 0; checked_in < expected; ) {
		if (!pit_broken) {
			if (pit_now() - start >= 30ull * PIT_HZ)
				break;
		} else {
			if (ms++ >= 30000)
				break;
			delay_us(1000);
		}
	}

	got = checked_in;
	lock();
	serial_puts("smp: ");
	if (got < expected) {
		serial_puts("only ");
		print_u64(got + bsp_listed);
		serial_puts(" of ");
		print_u64(ncpus);
		serial_puts(" cpus checked in\n");
		unlock();
		return 1;
	}
	serial_puts("all ");
	print_u64(ncpus);
	serial_puts(" cpus online\n");
	unlock();
	return 0;
}
