/*
 * reset-storm: a virtio-blk driver that resets its device with requests in
 * flight, in a loop. Each round: reset and negotiate (common/virtio.c
 * steps 1-6, which poll Status until the reset completes), queue 0 set up
 * with 30 entries, DRIVER_OK, then as many 4 MiB VIRTIO_BLK_T_IN requests
 * as fit (10 chains of 3 descriptors, all reading sector 0 into one shared
 * 4 MiB buffer) and one notify; the next round's reset follows at once,
 * without waiting for any completion. Prints "reset-storm start" and
 * "reset-storm rounds N" every `every` rounds (default 16); runs until the
 * VMM stops it. No device: "blk: no device", exit 4.
 */
#include "common/lib.h"
#include "common/virtio.h"

#define REQUEST_BYTES   (4u << 20)
#define CHAINS          10

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct virtio_dev blk;
static struct virtq q;
static struct blk_header header[CHAINS];
static uint8_t status[CHAINS];
static uint8_t data[REQUEST_BYTES] __attribute__((aligned(4096)));

int guest_main(const struct hvm_start_info *si)
{
	uint64_t every = cmdline_u64("every", 16);
	uint64_t base = virtio_find(VIRTIO_ID_BLOCK);

	(void)si;
	if (!base) {
		serial_puts("blk: no device\n");
		return 4;
	}
	if (every == 0)
		every = 1;
	serial_puts("reset-storm start\n");
	for (uint64_t round = 1;; round++) {
		virtio_negotiate(&blk, base, 0);
		memset(&q, 0, sizeof(q));
		virtq_setup(&blk, &q, 0, VIRTQ_MAX_SIZE);
		virtio_driver_ok(&blk);
		for (unsigned i = 0; i < CHAINS; i++) {
			struct virtio_buf b[3] = {
				{ &header[i], sizeof(header[i]), 0 },
				{ data, REQUEST_BYTES, 1 },
				{ &status[i], 1, 1 },
			};

			header[i].type = VIRTIO_BLK_T_IN;
			header[i].sector = 0;
			status[i] = 0xFF;
			if (virtq_add(&q, b, 3, &header[i]) != 0)
				break;
		}
		virtq_kick(&blk, &q);
		if (round % every == 0) {
			serial_puts("reset-storm rounds ");
			print_u64(round);
			serial_puts("\n");
		}
	}
}
