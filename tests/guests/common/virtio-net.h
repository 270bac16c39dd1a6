/*
 * Polling virtio-net driver for the test guests, on top of common/virtio.h
 * (virtio 1.2, 5.1). Negotiates VIRTIO_F_VERSION_1 and VIRTIO_NET_F_MAC
 * only: no offloads, no mergeable receive buffers, no control queue, one
 * receiveq (queue 0) and one transmitq (queue 1).
 *
 * Every buffer starts with the 12-byte struct virtio_net_hdr (5.1.6): all
 * zeros on transmit; on receive the device sets num_buffers = 1. Receive
 * buffers are 2048 bytes, one device-writable descriptor each (5.1.6.3:
 * at least 1526 bytes without MRG_RXBUF or GUEST_TSO*); a frame is sent as
 * one device-readable descriptor holding header + frame.
 *
 * Guests that use it include "common/virtio.h" (which is what links the
 * virtio archive into them) and "common/virtio-net.h".
 */
#ifndef GUEST_VIRTIO_NET_H
#define GUEST_VIRTIO_NET_H

#include <stdint.h>
#include "virtio.h"

#define VIRTIO_NET_F_MAC                (1ull << 5)
#define VIRTIO_NET_F_STATUS             (1ull << 16)

#define VIRTIO_NET_CFG_MAC              0x00    /* u8[6] */
#define VIRTIO_NET_CFG_STATUS           0x06    /* le16, if F_STATUS */

#define VIRTIO_NET_HDR_LEN              12      /* with VERSION_1 */
#define VIRTIO_NET_HDR_NUM_BUFFERS      10      /* le16 offset in it */

#define VNET_RXQ                        0
#define VNET_TXQ                        1
#define VNET_RX_BUFS                    32      /* receive buffers posted */
#define VNET_TX_BUFS                    16
#define VNET_BUF_SIZE                   2048

#define ETH_ALEN                        6
#define ETH_HLEN                        14
#define ETH_ZLEN                        60      /* minimum frame, no FCS */
#define ETH_FRAME_MAX                   1518    /* 1514 + a VLAN tag */

/* Without F_MAC: a fixed locally administered address. */
#define VNET_DEFAULT_MAC                { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 }

struct vnet {
	struct virtio_dev dev;          /* its own queue 0 rings are unused */
	struct virtq rxq;
	struct virtq txq;
	uint8_t rx_buf[VNET_RX_BUFS][VNET_BUF_SIZE] __attribute__((aligned(64)));
	uint8_t tx_buf[VNET_TX_BUFS][VNET_BUF_SIZE] __attribute__((aligned(64)));
	uint8_t *tx_free[VNET_TX_BUFS]; /* stack of idle transmit buffers */
	unsigned tx_nfree;
	uint8_t mac[ETH_ALEN];
	uint8_t *rx_cur;                /* buffer handed out by vnet_rx */
	uint64_t last_service;          /* TSC of the last virtio_service */
	uint64_t rx_frames, tx_frames;
	uint64_t rx_short;              /* used len < header: dropped */
	uint64_t rx_bad_hdr;            /* num_buffers != 1 (still used) */
};

/* TSC ticks per millisecond assumed by the guests' timeouts: the hosts run
 * at ~2.6 GHz; a different rate just scales every timeout. */
#define VNET_TSC_PER_MS                 2600000ull

static inline uint64_t vnet_tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | ((uint64_t)hi << 32);
}

/*
 * Find the first virtio-net device, initialize it (both queues, all
 * receive buffers posted), print the "virtio: dev ..." line and read the
 * MAC (config, 8-bit reads under ConfigGeneration) into n->mac. Returns 0,
 * or -1 if there is no device. Library failures exit (5, 6, 7).
 */
int vnet_init(struct vnet *n);

/*
 * Next received frame (Ethernet header onwards, without the virtio-net
 * header), *len = its length; NULL if none has arrived. The frame stays
 * valid until vnet_rx_done(), which must come before the next vnet_rx.
 * Also calls virtio_service() every ~10 ms (TSC) of polling.
 */
const uint8_t *vnet_rx(struct vnet *n, uint32_t *len);

/* Re-post the buffer of the last vnet_rx frame and notify queue 0. */
void vnet_rx_done(struct vnet *n);

/*
 * A transmit buffer's frame area (VNET_BUF_SIZE - 12 bytes), reclaiming
 * completed transmissions; waits (bounded: "virtio: transmit stalled",
 * exit 6) if all are in flight.
 */
uint8_t *vnet_tx_alloc(struct vnet *n);

/* Send len bytes (<= ETH_FRAME_MAX; zero-padded to ETH_ZLEN) from the
 * frame area vnet_tx_alloc returned; notifies queue 1. */
void vnet_tx_send(struct vnet *n, uint8_t *frame, uint32_t len);

/* Wait (bounded, as vnet_tx_alloc) until the device has consumed every
 * transmitted frame: call before exiting. */
void vnet_tx_flush(struct vnet *n);

/* "xx:xx:xx:xx:xx:xx" */
void vnet_print_mac(const uint8_t *mac);

/* Big-endian loads and stores. */
static inline uint16_t be16_get(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		((uint32_t)p[2] << 8) | p[3];
}
static inline void be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline int mac_eq(const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < ETH_ALEN; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static inline int mac_is_broadcast(const uint8_t *a)
{
	for (int i = 0; i < ETH_ALEN; i++)
		if (a[i] != 0xFF)
			return 0;
	return 1;
}

#endif
