/*
 * Tiny polling virtio-mmio driver for the test guests (modern devices only,
 * Version 2; split virtqueues; queue 0 only; one request in flight).
 * Written from the OASIS virtio 1.2 spec: 4.2 (MMIO transport), 2.7 (split
 * virtqueues), 3.1.1 (driver initialization), 5.2 (block), 5.4 (entropy).
 *
 * Errors the guest cannot recover from print one line and exit:
 *   "virtio: device needs reset"   status 5 (DEVICE_NEEDS_RESET seen)
 *   "virtio: timeout"              status 6 (request never completed)
 *   "virtio: <reason>"             status 7 (init or protocol error)
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdint.h>
#include <stddef.h>

/* Register offsets (4.2.2). All are 32 bits wide. */
#define VIRTIO_MMIO_MAGIC               0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC_VALUE         0x74726976u     /* "virt" */

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE       0x01
#define VIRTIO_STATUS_DRIVER            0x02
#define VIRTIO_STATUS_DRIVER_OK         0x04
#define VIRTIO_STATUS_FEATURES_OK       0x08
#define VIRTIO_STATUS_NEEDS_RESET       0x40
#define VIRTIO_STATUS_FAILED            0x80

/* InterruptStatus bits. */
#define VIRTIO_INT_USED_BUFFER          0x1
#define VIRTIO_INT_CONFIG_CHANGE        0x2

/* Device-independent feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC          (1ull << 28)
#define VIRTIO_F_EVENT_IDX              (1ull << 29)
#define VIRTIO_F_VERSION_1              (1ull << 32)

/* Device IDs (5). */
#define VIRTIO_ID_NET                   1
#define VIRTIO_ID_BLOCK                 2
#define VIRTIO_ID_ENTROPY               4

/* Guest exit statuses used by the library. */
#define VIRTIO_EXIT_NEEDS_RESET         5
#define VIRTIO_EXIT_TIMEOUT             6
#define VIRTIO_EXIT_ERROR               7

/* Where devices are looked for. */
#define VIRTIO_ACTORVM_BASE             0xD1000000ull
#define VIRTIO_ACTORVM_STRIDE           0x1000
#define VIRTIO_ACTORVM_SLOTS            32
#define VIRTIO_MICROVM_BASE             0xFEB00000ull
#define VIRTIO_MICROVM_STRIDE           0x200
#define VIRTIO_MICROVM_SLOTS            24

/* Queue size we ask for (at most; a power of two, <= QueueNumMax). */
#define VIRTQ_SIZE                      16

/* Split virtqueue layout (2.7). */
#define VIRTQ_DESC_F_NEXT               1
#define VIRTQ_DESC_F_WRITE              2
#define VIRTQ_USED_F_NO_NOTIFY          1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VIRTQ_SIZE];
	uint16_t used_event;            /* unused: EVENT_IDX not negotiated */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[VIRTQ_SIZE];
	uint16_t avail_event;           /* unused: EVENT_IDX not negotiated */
};

/*
 * One device and its queue 0. The rings live inside the struct, so declare
 * it static (guest RAM, identity-mapped: virtual == physical address).
 */
struct virtio_dev {
	struct virtq_desc desc[VIRTQ_SIZE] __attribute__((aligned(16)));
	struct virtq_avail avail __attribute__((aligned(16)));
	struct virtq_used used __attribute__((aligned(16)));
	uint64_t base;                  /* MMIO base address */
	uint32_t device_id;
	uint32_t vendor_id;
	uint64_t offered;               /* DeviceFeatures, bits 0..63 */
	uint64_t negotiated;            /* what we wrote to DriverFeatures */
	uint32_t queue_max;             /* QueueNumMax of queue 0 */
	uint16_t queue_size;            /* QueueNum we wrote */
	uint16_t avail_idx;             /* our copy of avail.idx */
	uint16_t used_seen;             /* used.idx consumed so far */
	uint32_t irq_acks;              /* InterruptStatus values acknowledged */
};

/* A piece of a request: device-readable unless device_writable is set. */
struct virtio_buf {
	void *addr;
	uint32_t len;
	uint32_t device_writable;
};

/*
 * Base address of the first modern (Version 2) virtio-mmio device with this
 * DeviceID, scanning actorvm's window then QEMU microvm's; 0 if none.
 */
uint64_t virtio_find(uint32_t device_id);

/*
 * Reset and initialize the device at base (3.1.1, 4.2.3): negotiates
 * VIRTIO_F_VERSION_1 plus whatever of `accept` the device offers, sets up
 * queue 0 and sets DRIVER_OK. Exits (status 5 or 7) on failure.
 */
void virtio_init(struct virtio_dev *d, uint64_t base, uint64_t accept);

/* One "virtio: dev ..." line: id, base, offered/negotiated features, queue. */
void virtio_describe(const struct virtio_dev *d);

/*
 * ---- several queues, several requests in flight (used by virtio-net) ----
 *
 * virtio_init() above is virtio_negotiate() + queue 0 on the rings inside
 * struct virtio_dev + virtio_driver_ok(). A device with more queues does
 * the steps itself:
 *
 *   virtio_negotiate(d, base, accept);       3.1.1 steps 1-6
 *   virtq_setup(d, &q0, 0, want); ...        step 7, one call per queue
 *   virtq_add(&q0, ...);                     optional: pre-post buffers
 *   virtio_driver_ok(d);                     step 8
 *   virtq_kick(d, &q0);                      notify only after DRIVER_OK
 *
 * then virtq_add / virtq_kick / virtq_poll in any order. Descriptors come
 * from a free list, so chains complete in any order; each chain carries a
 * cookie that virtq_poll hands back.
 */
#define VIRTQ_MAX_SIZE                  32      /* ring entries of struct virtq */

struct virtq {
	struct virtq_desc desc[VIRTQ_MAX_SIZE] __attribute__((aligned(16)));
	struct {
		uint16_t flags;
		uint16_t idx;
		uint16_t ring[VIRTQ_MAX_SIZE];
		uint16_t used_event;    /* unused: EVENT_IDX not negotiated */
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags;
		uint16_t idx;
		struct virtq_used_elem ring[VIRTQ_MAX_SIZE];
		uint16_t avail_event;   /* unused: EVENT_IDX not negotiated */
	} used __attribute__((aligned(16)));
	void *cookie[VIRTQ_MAX_SIZE];           /* per chain head */
	uint32_t writable[VIRTQ_MAX_SIZE];      /* per chain head: bytes */
	uint8_t chain_len[VIRTQ_MAX_SIZE];      /* per chain head; 0 = free */
	uint16_t index;                         /* queue number */
	uint16_t size;                          /* QueueNum we wrote */
	uint32_t max;                           /* QueueNumMax */
	uint16_t avail_idx;                     /* our copy of avail.idx */
	uint16_t used_seen;                     /* used.idx consumed so far */
	uint16_t free_head;                     /* free list through desc.next */
	uint16_t num_free;
	uint16_t in_flight;                     /* chains not yet returned */
};

/* 3.1.1 steps 1-6 (reset .. FEATURES_OK); as virtio_init otherwise. */
void virtio_negotiate(struct virtio_dev *d, uint64_t base, uint64_t accept);

/*
 * Set up queue `index` on q's rings (zeroes q first): QueueNum = largest
 * power of two <= min(want, VIRTQ_MAX_SIZE, QueueNumMax). For index 0 it
 * also sets d->queue_max / d->queue_size (for virtio_describe). Exits (7)
 * if the queue is absent or already live.
 */
void virtq_setup(struct virtio_dev *d, struct virtq *q, uint16_t index,
		 uint32_t want);

/* 3.1.1 step 8: Status |= DRIVER_OK. */
void virtio_driver_ok(struct virtio_dev *d);

/*
 * Make the n buffers one chain (readable ones first) and make it
 * available (avail.idx is published; the device is not notified).
 * Returns 0, or -1 if fewer than n descriptors are free.
 */
int virtq_add(struct virtq *q, const struct virtio_buf *b, unsigned n,
	      void *cookie);

/* Notify the device about queue q unless used.flags has NO_NOTIFY. */
void virtq_kick(struct virtio_dev *d, struct virtq *q);

/*
 * Take one used chain if there is one: returns 1 with *len = used length
 * and *cookie = the chain's cookie (both may be NULL) and frees its
 * descriptors; 0 if the device has returned nothing new. A used entry that
 * is not an outstanding chain head, or whose len exceeds the chain's
 * writable bytes, exits (7). Only memory is read (no MMIO).
 */
int virtq_poll(struct virtq *q, uint32_t *len, void **cookie);

/* Chains made available and not yet returned. */
static inline unsigned virtq_in_flight(const struct virtq *q)
{
	return q->in_flight;
}

/*
 * For polling loops, now and then (it costs two or three MMIO exits):
 * exits (5) on DEVICE_NEEDS_RESET, acknowledges InterruptStatus bits.
 */
void virtio_service(struct virtio_dev *d);

/*
 * Make the n buffers one descriptor chain (readable ones first), submit it
 * on queue 0, poll until the device has used it, acknowledge the interrupt.
 * Returns the used length (bytes the device wrote). Exits on
 * DEVICE_NEEDS_RESET (5), timeout (6) or a malformed used entry (7).
 */
uint32_t virtio_transfer(struct virtio_dev *d, const struct virtio_buf *b,
			 unsigned n);

/* Device-specific configuration space (offset from 0x100). */
uint8_t virtio_config_read8(const struct virtio_dev *d, uint32_t off);
uint32_t virtio_config_read32(const struct virtio_dev *d, uint32_t off);
/* Two 32-bit reads, retried until ConfigGeneration is stable. */
uint64_t virtio_config_read64(const struct virtio_dev *d, uint32_t off);

/* Print "virtio: <msg>" and exit with status. */
__attribute__((noreturn)) void virtio_fail(const char *msg, int status);

/* ---- block device (5.2) ---- */
#define VIRTIO_BLK_F_SIZE_MAX           (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX            (1ull << 2)
#define VIRTIO_BLK_F_RO                 (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE           (1ull << 6)
#define VIRTIO_BLK_F_FLUSH              (1ull << 9)

#define VIRTIO_BLK_CFG_CAPACITY         0x00    /* le64, 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX         0x08    /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX          0x0c    /* le32 */

#define VIRTIO_BLK_T_IN                 0
#define VIRTIO_BLK_T_OUT                1
#define VIRTIO_BLK_T_FLUSH              4

#define VIRTIO_BLK_S_OK                 0
#define VIRTIO_BLK_S_IOERR              1
#define VIRTIO_BLK_S_UNSUPP             2

#define VIRTIO_BLK_SECTOR               512

/*
 * One block request: header {type, 0, sector} (device-readable), len bytes
 * at data (device-writable for T_IN, device-readable otherwise; omitted if
 * len == 0) and the status byte (device-writable). len must be a multiple
 * of 512 for T_IN / T_OUT. Returns the status byte (0xFF if the device did
 * not write it); *used_len (if not NULL) gets the used length.
 */
uint8_t virtio_blk_request(struct virtio_dev *d, uint32_t type,
			   uint64_t sector, void *data, uint32_t len,
			   uint32_t *used_len);

/*
 * Largest data length per request the device allows (a multiple of 512,
 * at most want): size_max if VIRTIO_BLK_F_SIZE_MAX was negotiated.
 */
uint32_t virtio_blk_max_request(const struct virtio_dev *d, uint32_t want);

#endif
