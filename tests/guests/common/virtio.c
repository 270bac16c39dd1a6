/*
 * Tiny polling virtio-mmio driver (see virtio.h). Queue 0 only, one
 * request in flight, descriptors 0..n-1 reused for every request.
 */
#include "lib.h"
#include "virtio.h"

/*
 * Polling bounds. Every SPINS_PER_CHECK pauses we read Status (one MMIO
 * exit, to see DEVICE_NEEDS_RESET) and the TSC. We give up once the TSC has
 * advanced TIMEOUT_TSC ticks (2^35: ~13 s at 2.6 GHz, ~34 s at 1 GHz) or,
 * should the TSC not move at all, after MAX_CHECKS checks.
 */
#ifndef SPINS_PER_CHECK
#define SPINS_PER_CHECK 256u
#endif
#ifndef TIMEOUT_TSC
#define TIMEOUT_TSC     (1ull << 35)
#endif
#define MAX_CHECKS      (1u << 22)
#define MAX_RESET_POLLS (1u << 16)
#define MAX_GEN_RETRIES 100

/* Feature bits 24..40 are transport features; of those we implement only
 * VERSION_1 (no EVENT_IDX, INDIRECT_DESC, PACKED, ...). */
#define TRANSPORT_FEATURES (((1ull << 41) - 1) & ~((1ull << 24) - 1))

static inline void mb(void)
{
	/* Full barrier (store->load too); a locked op works everywhere. */
	__asm__ volatile("lock; addl $0, (%%rsp)" : : : "memory", "cc");
}

static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | ((uint64_t)hi << 32);
}

static inline uint32_t rd(const struct virtio_dev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static inline void wr(const struct virtio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

void virtio_fail(const char *msg, int status)
{
	serial_puts("virtio: ");
	serial_puts(msg);
	serial_puts("\n");
	guest_exit(status);
}

static void check_needs_reset(uint32_t status)
{
	if (status & VIRTIO_STATUS_NEEDS_RESET)
		virtio_fail("device needs reset", VIRTIO_EXIT_NEEDS_RESET);
}

/* Give up on the device during init (3.1.1: set FAILED, stop). */
static __attribute__((noreturn)) void init_fail(struct virtio_dev *d,
						 const char *msg)
{
	wr(d, VIRTIO_MMIO_STATUS, rd(d, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_FAILED);
	virtio_fail(msg, VIRTIO_EXIT_ERROR);
}

/* Set status bits (never clears one) and check the device kept them. */
static uint32_t set_status(struct virtio_dev *d, uint32_t bits)
{
	uint32_t s = rd(d, VIRTIO_MMIO_STATUS);

	check_needs_reset(s);
	wr(d, VIRTIO_MMIO_STATUS, s | bits);
	s = rd(d, VIRTIO_MMIO_STATUS);
	check_needs_reset(s);
	return s;
}

static int probe(uint64_t base, uint32_t device_id)
{
	if (mmio_read32(base + VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE)
		return 0;       /* empty slot: all-ones, zeros, anything else */
	if (mmio_read32(base + VIRTIO_MMIO_VERSION) != 2)
		return 0;       /* legacy (1) or unknown: ignored (4.2.2.2) */
	uint32_t id = mmio_read32(base + VIRTIO_MMIO_DEVICE_ID);
	return id != 0 && id == device_id;
}

uint64_t virtio_find(uint32_t device_id)
{
	for (unsigned i = 0; i < VIRTIO_ACTORVM_SLOTS; i++) {
		uint64_t b = VIRTIO_ACTORVM_BASE + (uint64_t)i * VIRTIO_ACTORVM_STRIDE;
		if (probe(b, device_id))
			return b;
	}
	for (unsigned i = 0; i < VIRTIO_MICROVM_SLOTS; i++) {
		uint64_t b = VIRTIO_MICROVM_BASE + (uint64_t)i * VIRTIO_MICROVM_STRIDE;
		if (probe(b, device_id))
			return b;
	}
	return 0;
}

void virtio_negotiate(struct virtio_dev *d, uint64_t base, uint64_t accept)
{
	memset(d, 0, sizeof(*d));
	d->base = base;

	/* 4.2.3.1.1: magic and version first; DeviceID 0 means hands off. */
	if (rd(d, VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE ||
	    rd(d, VIRTIO_MMIO_VERSION) != 2)
		virtio_fail("not a modern virtio-mmio device", VIRTIO_EXIT_ERROR);
	d->device_id = rd(d, VIRTIO_MMIO_DEVICE_ID);
	if (d->device_id == 0)
		virtio_fail("placeholder device (id 0)", VIRTIO_EXIT_ERROR);
	d->vendor_id = rd(d, VIRTIO_MMIO_VENDOR_ID);

	/* 1. Reset; it is complete once Status reads back 0 (2.4.2). */
	wr(d, VIRTIO_MMIO_STATUS, 0);
	for (uint32_t i = 0;; i++) {
		uint32_t s = rd(d, VIRTIO_MMIO_STATUS);
		if (s == 0)
			break;
		check_needs_reset(s);
		if (i >= MAX_RESET_POLLS)
			virtio_fail("reset did not complete", VIRTIO_EXIT_ERROR);
		cpu_relax();
	}

	/* 2., 3. */
	set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(d, VIRTIO_STATUS_DRIVER);

	/* 4. Features: read both words, accept a subset. */
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	d->offered = lo | (hi << 32);
	if (!(d->offered & VIRTIO_F_VERSION_1))
		init_fail(d, "device does not offer VERSION_1");
	d->negotiated = d->offered &
		((accept & ~TRANSPORT_FEATURES) | VIRTIO_F_VERSION_1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->negotiated);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->negotiated >> 32));

	/* 5., 6. FEATURES_OK must stick. */
	if (!(set_status(d, VIRTIO_STATUS_FEATURES_OK) & VIRTIO_STATUS_FEATURES_OK))
		init_fail(d, "device refused FEATURES_OK");
}

/* "queue N <what>", then init_fail. */
static __attribute__((noreturn)) void queue_fail(struct virtio_dev *d,
						  uint16_t index,
						  const char *what)
{
	static char msg[48];
	char digits[6];
	unsigned n = 0, k = 0;

	do {
		digits[n++] = (char)('0' + index % 10);
		index /= 10;
	} while (index);
	for (const char *p = "queue "; *p; p++)
		msg[k++] = *p;
	while (n)
		msg[k++] = digits[--n];
	msg[k++] = ' ';
	for (const char *p = what; *p && k < sizeof(msg) - 1; p++)
		msg[k++] = *p;
	msg[k] = '\0';
	init_fail(d, msg);
}

/*
 * 3.1.1 step 7 for one queue (4.2.3.2): QueueSel, check QueueReady is 0
 * and QueueNumMax non-zero, QueueNum = largest power of two <= min(want,
 * QueueNumMax) (the split-ring rule), the three ring addresses, QueueReady.
 * The rings must be zeroed already (used.flags = 0 as 2.7.10 wants).
 * Returns the size; *max gets QueueNumMax.
 */
static uint16_t queue_setup(struct virtio_dev *d, uint16_t index,
			    uint32_t want, const void *desc,
			    const void *avail, const void *used,
			    uint32_t *max)
{
	wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (rd(d, VIRTIO_MMIO_QUEUE_READY) != 0)
		queue_fail(d, index, "already ready");
	*max = rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (*max == 0)
		queue_fail(d, index, "not available");
	uint32_t qs = 1;
	while (qs * 2 <= want && qs * 2 <= *max)
		qs *= 2;
	wr(d, VIRTIO_MMIO_QUEUE_NUM, qs);
	uint64_t a = (uint64_t)(uintptr_t)desc;
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)a);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(a >> 32));
	a = (uint64_t)(uintptr_t)avail;
	wr(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)a);
	wr(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
	a = (uint64_t)(uintptr_t)used;
	wr(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)a);
	wr(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(a >> 32));
	barrier();
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return (uint16_t)qs;
}

void virtio_driver_ok(struct virtio_dev *d)
{
	set_status(d, VIRTIO_STATUS_DRIVER_OK);
}

void virtio_init(struct virtio_dev *d, uint64_t base, uint64_t accept)
{
	virtio_negotiate(d, base, accept);      /* zeroes d, rings included */
	/* 7. Queue 0 on the rings inside d. */
	d->queue_size = queue_setup(d, 0, VIRTQ_SIZE, d->desc, &d->avail,
				    &d->used, &d->queue_max);
	/* 8. Live. */
	virtio_driver_ok(d);
}

void virtio_describe(const struct virtio_dev *d)
{
	serial_puts("virtio: dev ");
	print_u64(d->device_id);
	serial_puts(" at ");
	print_hex(d->base, 8);
	serial_puts(" vendor=");
	print_hex(d->vendor_id, 8);
	serial_puts(" offered=");
	print_hex(d->offered, 16);
	serial_puts(" negotiated=");
	print_hex(d->negotiated, 16);
	serial_puts(" queue_max=");
	print_u64(d->queue_max);
	serial_puts(" queue_size=");
	print_u64(d->queue_size);
	serial_puts("\n");
}

uint32_t virtio_transfer(struct virtio_dev *d, const struct virtio_buf *b,
			 unsigned n)
{
	volatile struct virtq_used *used = &d->used;
	volatile struct virtq_avail *avail = &d->avail;
	uint32_t writable = 0;

	if (n == 0 || n > d->queue_size)
		virtio_fail("bad descriptor count", VIRTIO_EXIT_ERROR);

	/* Descriptor chain 0 -> 1 -> ... -> n-1 (2.7.13.1). */
	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = 0;

		if (b[i].device_writable) {
			flags |= VIRTQ_DESC_F_WRITE;
			writable += b[i].len;
		} else if (writable) {
			virtio_fail("readable buffer after writable one",
				    VIRTIO_EXIT_ERROR);
		}
		if (i + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		d->desc[i].addr = (uint64_t)(uintptr_t)b[i].addr;
		d->desc[i].len = b[i].len;
		d->desc[i].flags = flags;
		d->desc[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
	}

	/* Head 0 into the next avail slot, then publish idx (2.7.13.2-3). */
	const uint16_t head = 0;
	avail->ring[d->avail_idx % d->queue_size] = head;
	barrier();                      /* x86: stores stay ordered */
	d->avail_idx++;
	avail->idx = d->avail_idx;
	mb();                           /* idx visible before reading flags */
	if (!(used->flags & VIRTQ_USED_F_NO_NOTIFY))
		wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);

	/* Poll the used ring. */
	uint32_t spins = 0, checks = 0;
	uint64_t t0 = 0;
	while (used->idx == d->used_seen) {
		cpu_relax();
		if (++spins < SPINS_PER_CHECK)
			continue;
		spins = 0;
		check_needs_reset(rd(d, VIRTIO_MMIO_STATUS));
		if (checks++ == 0)
			t0 = rdtsc();
		else if (rdtsc() - t0 > TIMEOUT_TSC || checks == MAX_CHECKS)
			virtio_fail("timeout", VIRTIO_EXIT_TIMEOUT);
	}
	barrier();                      /* x86: loads stay ordered */
	uint32_t id = used->ring[d->used_seen % d->queue_size].id;
	uint32_t len = used->ring[d->used_seen % d->queue_size].len;
	d->used_seen++;
	if (used->idx != d->used_seen)
		virtio_fail("more used entries than requests", VIRTIO_EXIT_ERROR);
	if (id != head)
		virtio_fail("used id is not the chain head", VIRTIO_EXIT_ERROR);
	if (len > writable)
		virtio_fail("used len exceeds writable length", VIRTIO_EXIT_ERROR);

	/* Not using interrupts, but acknowledge what the device raised. */
	uint32_t isr = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr & (VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE)) {
		wr(d, VIRTIO_MMIO_INTERRUPT_ACK,
		   isr & (VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE));
		d->irq_acks++;
	}
	if (isr & VIRTIO_INT_CONFIG_CHANGE)
		check_needs_reset(rd(d, VIRTIO_MMIO_STATUS));
	return len;
}

/* ---- several queues ---- */

void virtq_setup(struct virtio_dev *d, struct virtq *q, uint16_t index,
		 uint32_t want)
{
	memset(q, 0, sizeof(*q));
	if (want > VIRTQ_MAX_SIZE)
		want = VIRTQ_MAX_SIZE;
	q->index = index;
	q->size = queue_setup(d, index, want, q->desc, &q->avail, &q->used,
			      &q->max);
	/* Free list 0 -> 1 -> ... -> size-1 through desc.next. */
	for (uint16_t i = 0; i < q->size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->free_head = 0;
	q->num_free = q->size;
	if (index == 0) {
		d->queue_max = q->max;
		d->queue_size = q->size;
	}
}

int virtq_add(struct virtq *q, const struct virtio_buf *b, unsigned n,
	      void *cookie)
{
	volatile struct virtq *vq = q;
	uint32_t writable = 0;

	if (n == 0 || n > q->num_free)
		return -1;
	/* Chain through the free list: every descriptor's next already
	 * names the following free one (2.7.13.1). */
	uint16_t head = q->free_head, i = head;
	for (unsigned k = 0; k < n; k++) {
		uint16_t flags = 0;

		if (b[k].device_writable) {
			flags |= VIRTQ_DESC_F_WRITE;
			writable += b[k].len;
		} else if (writable) {
			virtio_fail("readable buffer after writable one",
				    VIRTIO_EXIT_ERROR);
		}
		if (k + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		q->desc[i].addr = (uint64_t)(uintptr_t)b[k].addr;
		q->desc[i].len = b[k].len;
		q->desc[i].flags = flags;
		i = q->desc[i].next;
	}
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - n);
	q->in_flight++;
	q->chain_len[head] = (uint8_t)n;
	q->writable[head] = writable;
	q->cookie[head] = cookie;

	/* Head into the next avail slot, then publish idx (2.7.13.2-3). */
	vq->avail.ring[q->avail_idx % q->size] = head;
	barrier();                      /* x86: stores stay ordered */
	q->avail_idx++;
	vq->avail.idx = q->avail_idx;
	return 0;
}

void virtq_kick(struct virtio_dev *d, struct virtq *q)
{
	volatile struct virtq *vq = q;

	mb();                           /* idx visible before reading flags */
	if (!(vq->used.flags & VIRTQ_USED_F_NO_NOTIFY))
		wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

int virtq_poll(struct virtq *q, uint32_t *len, void **cookie)
{
	volatile struct virtq *vq = q;
	uint16_t idx = vq->used.idx;

	if (idx == q->used_seen)
		return 0;
	if ((uint16_t)(idx - q->used_seen) > q->in_flight)
		virtio_fail("more used entries than requests", VIRTIO_EXIT_ERROR);
	barrier();                      /* x86: loads stay ordered */
	uint32_t id = vq->used.ring[q->used_seen % q->size].id;
	uint32_t l = vq->used.ring[q->used_seen % q->size].len;
	q->used_seen++;
	if (id >= q->size || q->chain_len[id] == 0)
		virtio_fail("used id is not the chain head", VIRTIO_EXIT_ERROR);
	if (l > q->writable[id])
		virtio_fail("used len exceeds writable length", VIRTIO_EXIT_ERROR);
	if (len)
		*len = l;
	if (cookie)
		*cookie = q->cookie[id];

	/* Back onto the free list: walk to the chain's last descriptor (our
	 * own table; the device does not write it). */
	uint16_t last = (uint16_t)id;
	for (unsigned k = 1; k < q->chain_len[id]; k++)
		last = q->desc[last].next;
	q->desc[last].next = q->free_head;
	q->free_head = (uint16_t)id;
	q->num_free = (uint16_t)(q->num_free + q->chain_len[id]);
	q->chain_len[id] = 0;
	q->in_flight--;
	return 1;
}

void virtio_service(struct virtio_dev *d)
{
	check_needs_reset(rd(d, VIRTIO_MMIO_STATUS));
	uint32_t isr = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr & (VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE)) {
		wr(d, VIRTIO_MMIO_INTERRUPT_ACK,
		   isr & (VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE));
		d->irq_acks++;
	}
	if (isr & VIRTIO_INT_CONFIG_CHANGE)
		check_needs_reset(rd(d, VIRTIO_MMIO_STATUS));
}

uint8_t virtio_config_read8(const struct virtio_dev *d, uint32_t off)
{
	return *(volatile uint8_t *)(uintptr_t)(d->base + VIRTIO_MMIO_CONFIG + off);
}

uint32_t virtio_config_read32(const struct virtio_dev *d, uint32_t off)
{
	return rd(d, VIRTIO_MMIO_CONFIG + off);
}

uint64_t virtio_config_read64(const struct virtio_dev *d, uint32_t off)
{
	for (int i = 0; i < MAX_GEN_RETRIES; i++) {
		uint32_t g = rd(d, VIRTIO_MMIO_CONFIG_GENERATION);
		uint64_t lo = virtio_config_read32(d, off);
		uint64_t hi = virtio_config_read32(d, off + 4);
		if (rd(d, VIRTIO_MMIO_CONFIG_GENERATION) == g)
			return lo | (hi << 32);
	}
	virtio_fail("config generation never settles", VIRTIO_EXIT_ERROR);
}

/* ---- block device ---- */

struct virtio_blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct virtio_blk_hdr blk_hdr __attribute__((aligned(16)));
static volatile uint8_t blk_status;

uint8_t virtio_blk_request(struct virtio_dev *d, uint32_t type,
			   uint64_t sector, void *data, uint32_t len,
			   uint32_t *used_len)
{
	struct virtio_buf b[3];
	unsigned n = 0;

	blk_hdr.type = type;
	blk_hdr.reserved = 0;
	blk_hdr.sector = sector;
	blk_status = 0xFF;

	b[n].addr = &blk_hdr;
	b[n].len = sizeof(blk_hdr);
	b[n++].device_writable = 0;
	if (len) {
		b[n].addr = data;
		b[n].len = len;
		b[n++].device_writable = (type == VIRTIO_BLK_T_IN);
	}
	b[n].addr = (void *)&blk_status;
	b[n].len = 1;
	b[n++].device_writable = 1;

	uint32_t ul = virtio_transfer(d, b, n);
	if (used_len)
		*used_len = ul;
	return blk_status;
}

uint32_t virtio_blk_max_request(const struct virtio_dev *d, uint32_t want)
{
	if (d->negotiated & VIRTIO_BLK_F_SIZE_MAX) {
		uint32_t sm = virtio_config_read32(d, VIRTIO_BLK_CFG_SIZE_MAX);
		if (sm >= VIRTIO_BLK_SECTOR && sm < want)
			want = sm;
	}
	want &= ~(uint32_t)(VIRTIO_BLK_SECTOR - 1);
	return want ? want : VIRTIO_BLK_SECTOR;
}
