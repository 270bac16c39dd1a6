/*
 * Polling virtio-net driver (see virtio-net.h), written from the virtio 1.2
 * spec, 5.1 (network device) on top of the queue functions of virtio.c.
 */
#include "lib.h"
#include "virtio.h"
#include "virtio-net.h"

_Static_assert(VNET_RX_BUFS <= VIRTQ_MAX_SIZE, "receive ring too small");
_Static_assert(VNET_TX_BUFS <= VIRTQ_MAX_SIZE, "transmit ring too small");
_Static_assert(VNET_BUF_SIZE >= VIRTIO_NET_HDR_LEN + ETH_FRAME_MAX,
	       "buffers too small for a frame");

#define SERVICE_EVERY_MS        10      /* virtio_service while polling */
#define TX_WAIT_MS              10000   /* transmit stalled after this */
#define POLLS_PER_TSC_READ      64
#define MAX_GEN_RETRIES         100

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

void vnet_print_mac(const uint8_t *mac)
{
	char s[18];

	for (int i = 0; i < ETH_ALEN; i++) {
		s[3 * i] = "0123456789abcdef"[mac[i] >> 4];
		s[3 * i + 1] = "0123456789abcdef"[mac[i] & 0xF];
		s[3 * i + 2] = (i + 1 < ETH_ALEN) ? ':' : '\0';
	}
	serial_puts(s);
}

/* mac[6] with 8-bit accesses (4.2.2.2), retried until ConfigGeneration is
 * the same before and after (2.5.1: a 6-byte field is not read atomically). */
static void read_mac(struct vnet *n)
{
	uint64_t gen = n->dev.base + VIRTIO_MMIO_CONFIG_GENERATION;

	for (int r = 0; r < MAX_GEN_RETRIES; r++) {
		uint32_t g = mmio_read32(gen);
		for (int i = 0; i < ETH_ALEN; i++)
			n->mac[i] = virtio_config_read8(&n->dev,
							VIRTIO_NET_CFG_MAC + i);
		if (mmio_read32(gen) == g)
			return;
	}
	virtio_fail("config generation never settles", VIRTIO_EXIT_ERROR);
}

static void rx_post(struct vnet *n, uint8_t *buf)
{
	struct virtio_buf b = { buf, VNET_BUF_SIZE, 1 };

	if (virtq_add(&n->rxq, &b, 1, buf) != 0)
		virtio_fail("receive ring full", VIRTIO_EXIT_ERROR);
}

int vnet_init(struct vnet *n)
{
	uint64_t base = virtio_find(VIRTIO_ID_NET);
	if (!base)
		return -1;

	/* 3.1.1 steps 1-6; 5.1.3: accept MAC, nothing else device-specific. */
	virtio_negotiate(&n->dev, base, VIRTIO_NET_F_MAC);

	/* Step 7: receiveq1 = 0, transmitq1 = 1 (5.1.2; no MQ, no CTRL_VQ),
	 * receive buffers posted (5.1.5 step 3), the MAC read (5.1.5 step 5). */
	virtq_setup(&n->dev, &n->rxq, VNET_RXQ, VNET_RX_BUFS);
	virtq_setup(&n->dev, &n->txq, VNET_TXQ, VNET_TX_BUFS);
	for (unsigned i = 0; i < n->rxq.size; i++)
		rx_post(n, n->rx_buf[i]);
	n->tx_nfree = 0;
	for (unsigned i = 0; i < n->txq.size; i++)
		n->tx_free[n->tx_nfree++] = n->tx_buf[i];
	if (n->dev.negotiated & VIRTIO_NET_F_MAC) {
		read_mac(n);
	} else {
		static const uint8_t def[ETH_ALEN] = VNET_DEFAULT_MAC;
		memcpy(n->mac, def, ETH_ALEN);
	}

	/* Step 8, then the first notification (not allowed before it). */
	virtio_driver_ok(&n->dev);
	virtq_kick(&n->dev, &n->rxq);
	n->rx_cur = NULL;
	n->last_service = vnet_tsc();
	virtio_describe(&n->dev);
	return 0;
}

/* virtio_service() once SERVICE_EVERY_MS has passed (TSC read only every
 * POLLS_PER_TSC_READ calls). */
static void maybe_service(struct vnet *n)
{
	static unsigned polls;

	if (++polls < POLLS_PER_TSC_READ)
		return;
	polls = 0;
	uint64_t now = vnet_tsc();
	if (now - n->last_service >= SERVICE_EVERY_MS * VNET_TSC_PER_MS) {
		n->last_service = now;
		virtio_service(&n->dev);
	}
}

const uint8_t *vnet_rx(struct vnet *n, uint32_t *len)
{
	if (n->rx_cur)
		virtio_fail("vnet_rx before vnet_rx_done", VIRTIO_EXIT_ERROR);
	for (;;) {
		uint32_t used;
		void *cookie;

		if (!virtq_poll(&n->rxq, &used, &cookie)) {
			cpu_relax();
			maybe_service(n);
			return NULL;
		}
		uint8_t *buf = cookie;
		if (used < VIRTIO_NET_HDR_LEN) {
			/* Not even a header: drop, give the buffer back. */
			n->rx_short++;
			rx_post(n, buf);
			virtq_kick(&n->dev, &n->rxq);
			continue;
		}
		/* 5.1.6.4.1: without GUEST_CSUM / GUEST_TSO* / MRG_RXBUF the
		 * device sets flags 0, gso_type NONE and num_buffers 1. */
		uint16_t nb = (uint16_t)(buf[VIRTIO_NET_HDR_NUM_BUFFERS] |
					 (buf[VIRTIO_NET_HDR_NUM_BUFFERS + 1] << 8));
		if ((buf[0] != 0 || buf[1] != 0 || nb != 1) &&
		    n->rx_bad_hdr++ == 0) {
			serial_puts("virtio-net: unexpected receive header flags=");
			print_u64(buf[0]);
			serial_puts(" gso_type=");
			print_u64(buf[1]);
			serial_puts(" num_buffers=");
			print_u64(nb);
			serial_puts("\n");
		}
		n->rx_cur = buf;
		n->rx_frames++;
		*len = used - VIRTIO_NET_HDR_LEN;
		return buf + VIRTIO_NET_HDR_LEN;
	}
}

void vnet_rx_done(struct vnet *n)
{
	if (!n->rx_cur)
		return;
	rx_post(n, n->rx_cur);
	n->rx_cur = NULL;
	virtq_kick(&n->dev, &n->rxq);
}

static void tx_reclaim(struct vnet *n)
{
	void *cookie;

	while (virtq_poll(&n->txq, NULL, &cookie))
		n->tx_free[n->tx_nfree++] = cookie;
}

/* Poll until cond(n) holds, bounded by TX_WAIT_MS of TSC. */
static void tx_wait(struct vnet *n, int (*cond)(const struct vnet *))
{
	uint64_t t0 = vnet_tsc();
	uint32_t spins = 0;

	for (;;) {
		tx_reclaim(n);
		if (cond(n))
			return;
		cpu_relax();
		if (++spins < POLLS_PER_TSC_READ)
			continue;
		spins = 0;
		maybe_service(n);
		if (vnet_tsc() - t0 > TX_WAIT_MS * VNET_TSC_PER_MS)
			virtio_fail("transmit stalled", VIRTIO_EXIT_TIMEOUT);
	}
}

static int tx_has_free(const struct vnet *n)
{
	return n->tx_nfree > 0;
}

static int tx_idle(const struct vnet *n)
{
	return virtq_in_flight(&n->txq) == 0;
}

uint8_t *vnet_tx_alloc(struct vnet *n)
{
	tx_reclaim(n);
	if (!n->tx_nfree)
		tx_wait(n, tx_has_free);
	return n->tx_free[--n->tx_nfree] + VIRTIO_NET_HDR_LEN;
}

void vnet_tx_send(struct vnet *n, uint8_t *frame, uint32_t len)
{
	uint8_t *buf = frame - VIRTIO_NET_HDR_LEN;

	if (len > ETH_FRAME_MAX)
		virtio_fail("transmit frame too long", VIRTIO_EXIT_ERROR);
	if (len < ETH_ZLEN) {
		memset(frame + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	/* 5.1.6.2: flags 0, gso_type NONE, the rest 0 (num_buffers too). */
	memset(buf, 0, VIRTIO_NET_HDR_LEN);
	struct virtio_buf b = { buf, VIRTIO_NET_HDR_LEN + len, 0 };
	if (virtq_add(&n->txq, &b, 1, buf) != 0)
		virtio_fail("transmit ring full", VIRTIO_EXIT_ERROR);
	virtq_kick(&n->dev, &n->txq);
	n->tx_frames++;
}

void vnet_tx_flush(struct vnet *n)
{
	tx_wait(n, tx_idle);
}
