/*
 * rng: take 4 x 64 bytes from the first virtio-rng device (DeviceID 4),
 * one device-writable buffer per request (each zeroed first).
 *   "rng ok bytes=N"   exit 0: every used length was 1..64 and the N bytes
 *                      received are not all the same value
 *   "rng bad"          exit 3
 *   "rng: no device"   exit 4
 * Library failures: see common/virtio.h (5, 6, 7). A "virtio: dev ..." line
 * describing the device comes first.
 */
#include "common/lib.h"
#include "common/virtio.h"

#define REQUESTS        4
#define REQ_BYTES       64

static struct virtio_dev rng;
static uint8_t req_buf[REQ_BYTES] __attribute__((aligned(64)));
static uint8_t got[REQUESTS * REQ_BYTES];

int guest_main(const struct hvm_start_info *si)
{
	(void)si;

	uint64_t base = virtio_find(VIRTIO_ID_ENTROPY);
	if (!base) {
		serial_puts("rng: no device\n");
		return 4;
	}
	virtio_init(&rng, base, 0);     /* no entropy feature bits exist */
	virtio_describe(&rng);

	uint32_t total = 0;
	int ok = 1;
	for (int r = 0; r < REQUESTS; r++) {
		struct virtio_buf b = { req_buf, REQ_BYTES, 1 };

		memset(req_buf, 0, REQ_BYTES);
		uint32_t len = virtio_transfer(&rng, &b, 1);
		if (len == 0 || len > REQ_BYTES) {
			ok = 0;
			break;
		}
		memcpy(&got[total], req_buf, len);
		total += len;
	}

	/* All-equal bytes (all zero = nothing written, all 0xFF, ...) = bad. */
	int varied = 0;
	for (uint32_t i = 1; i < total && !varied; i++)
		varied = got[i] != got[0];
	if (!ok || !varied) {
		serial_puts("rng bad\n");
		return 3;
	}
	serial_puts("rng ok bytes=");
	print_u64(total);
	serial_puts("\n");
	return 0;
}
