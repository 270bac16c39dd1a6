/*
 * blk-bench: virtio-blk throughput probe (timed from outside).
 *
 * Command line: mode=seqread|seqwrite|randread (default seqread),
 * bytes=N (total, default 4 MiB), bs=N (bytes per request; default 64 KiB
 * for seq modes, 4096 for randread; rounded down to a multiple of 512 and
 * clamped to 512..1 MiB, to size_max and to the disk size), seed=N (LCG
 * seed for randread, default 1).
 *
 * Sequential modes go from sector 0 up, wrapping at the end of the disk;
 * randread picks bs-aligned offsets within the disk. One request in flight,
 * no per-byte guest work (seqwrite writes the zero-filled buffer).
 * Prints "blk-bench start mode=M bs=N" before the first request and
 * "blk-bench mode=M requests=R bytes=B" after the last one, exit 0.
 * A request whose status is not OK: "blk-bench: request failed status=S
 * sector=N", exit 3. Unknown mode: "blk-bench: bad mode", exit 2. No
 * device: "blk: no device", exit 4. Library failures: common/virtio.h.
 */
#include "common/lib.h"
#include "common/virtio.h"

#define MAX_BS          (1024u * 1024)

enum mode { SEQREAD, SEQWRITE, RANDREAD, BAD };

static struct virtio_dev blk;
static uint8_t buf[MAX_BS] __attribute__((aligned(4096)));

static const char *const mode_names[] = { "seqread", "seqwrite", "randread" };

/* Does the command-line token at p (ending at ' ' or NUL) equal s? */
static int token_is(const char *p, const char *s)
{
	while (*s && *p == *s) {
		p++;
		s++;
	}
	return !*s && (*p == '\0' || *p == ' ');
}

static enum mode parse_mode(void)
{
	const char *p = cmdline_get();

	while (*p) {
		while (*p == ' ')
			p++;
		if (p[0] == 'm' && p[1] == 'o' && p[2] == 'd' && p[3] == 'e' &&
		    p[4] == '=') {
			for (int m = SEQREAD; m < BAD; m++)
				if (token_is(p + 5, mode_names[m]))
					return (enum mode)m;
			return BAD;
		}
		while (*p && *p != ' ')
			p++;
	}
	return SEQREAD;
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;

	enum mode mode = parse_mode();
	if (mode == BAD) {
		serial_puts("blk-bench: bad mode\n");
		return 2;
	}
	uint64_t bytes = cmdline_u64("bytes", 4u * 1024 * 1024);
	uint64_t bs = cmdline_u64("bs", mode == RANDREAD ? 4096 : 64 * 1024);
	uint64_t rnd = cmdline_u64("seed", 1);

	uint64_t base = virtio_find(VIRTIO_ID_BLOCK);
	if (!base) {
		serial_puts("blk: no device\n");
		return 4;
	}
	virtio_init(&blk, base, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_SIZE_MAX);
	virtio_describe(&blk);

	uint64_t sectors = virtio_config_read64(&blk, VIRTIO_BLK_CFG_CAPACITY);
	if (bs > MAX_BS)
		bs = MAX_BS;
	bs = virtio_blk_max_request(&blk, (uint32_t)bs);
	if (bs / VIRTIO_BLK_SECTOR > sectors)
		bs = sectors * VIRTIO_BLK_SECTOR;
	if (sectors == 0) {
		serial_puts("blk-bench: empty disk\n");
		return 2;
	}
	uint32_t type = (mode == SEQWRITE) ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	uint64_t bs_sectors = bs / VIRTIO_BLK_SECTOR;
	uint64_t slots = sectors / bs_sectors;  /* >= 1 */

	serial_puts("blk-bench start mode=");
	serial_puts(mode_names[mode]);
	serial_puts(" bs=");
	print_u64(bs);
	serial_puts("\n");

	uint64_t done = 0, requests = 0, pos = 0;
	while (done < bytes) {
		uint64_t len = bytes - done;
		if (len > bs)
			len = bs;
		len = (len + VIRTIO_BLK_SECTOR - 1) & ~(uint64_t)(VIRTIO_BLK_SECTOR - 1);

		uint64_t sector;
		if (mode == RANDREAD) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			sector = ((rnd >> 33) % slots) * bs_sectors;
		} else {
			if (pos + len / VIRTIO_BLK_SECTOR > sectors)
				pos = 0;
			sector = pos;
			pos += len / VIRTIO_BLK_SECTOR;
		}
		uint8_t st = virtio_blk_request(&blk, type, sector, buf,
						(uint32_t)len, NULL);
		if (st != VIRTIO_BLK_S_OK) {
			serial_puts("blk-bench: request failed status=");
			print_u64(st);
			serial_puts(" sector=");
			print_u64(sector);
			serial_puts("\n");
			return 3;
		}
		requests++;
		done += len;
	}

	serial_puts("blk-bench mode=");
	serial_puts(mode_names[mode]);
	serial_puts(" requests=");
	print_u64(requests);
	serial_puts(" bytes=");
	print_u64(done);
	serial_puts("\n");
	return 0;
}
