/*
 * net-peer: two guests on one virtual switch exchange test frames over
 * virtio-net (common/virtio-net.h).
 *
 * Command line: role=a|b (default a), frames=N (default 20, clamped to
 * 1..65536), report=R (default 0), wait=MS (default 10000, clamped to
 * 100..600000). With R > 0, a prints "net-peer a at S"
 * each time S (a multiple of R) has been echoed. Test frames: EtherType 0x88B5 (IEEE local experimental),
 * 64-byte payload = 4-byte big-endian sequence number S, then payload byte
 * i (4 <= i < 64) = (S + i) & 0xFF. A frame is 78 bytes.
 *
 * role b: "net-peer b ready mac=M"; echoes every 0x88B5 frame addressed to
 * it or to broadcast (and not sent by itself): destination := received
 * source, source := own MAC, the rest unchanged. Once it has echoed
 * frames with N distinct sequence numbers 0..N-1 (retransmissions are
 * echoed again but not counted) and the device has taken the last echo:
 * "net-peer b echoed N", exit 0. No new sequence number for 120 s:
 * "net-peer b timeout", exit 6.
 *
 * role a: "net-peer a ready mac=M"; sends S = 0 to ff:ff:ff:ff:ff:ff every
 * 50 ms until an echo of it arrives (at most 120 s), learns b's MAC from
 * its source, then sends S = 1..N-1 to b one at a time, each resent every
 * 500 ms until its echo arrives (at most wait=MS per frame: a peer that
 * moves live is away for its move's downtime, seconds on an emulated host). An echo is a
 * 0x88B5 frame with destination = a's MAC, carrying the current S (and,
 * after S = 0, coming from b); everything else is ignored. Its payload must
 * match byte for byte (and be >= 64 bytes), else "net-peer a bad frame
 * seq=S", exit 3. All echoed: "net-peer a ok frames=N", exit 0; a wait
 * exceeded: "net-peer a timeout", exit 6.
 *
 * Both: no device: "net-peer: no device", exit 4; library failures as in
 * common/virtio.h (5, 6, 7). A "virtio: dev ..." line comes first.
 * Timeouts assume a ~2.6 GHz TSC (VNET_TSC_PER_MS).
 */
#include "common/lib.h"
#include "common/virtio.h"
#include "common/virtio-net.h"

#define ETHERTYPE_PEER          0x88B5
#define PAYLOAD_LEN             64
#define FRAME_LEN               (ETH_HLEN + PAYLOAD_LEN)
#define MAX_FRAMES              65536u

#define PROBE_EVERY_MS          50      /* S = 0 to broadcast */
#define FIRST_ECHO_MS           120000  /* b may boot slowly */
#define RESEND_MS               500
#define ECHO_WAIT_MS            10000   /* per frame after the first, unless wait= */
#define B_IDLE_MS               120000

static struct vnet net;
static uint8_t seen[MAX_FRAMES / 8];    /* b: sequence numbers echoed */

static const uint8_t broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void ready(char role)
{
	serial_puts("net-peer ");
	serial_putc(role);
	serial_puts(" ready mac=");
	vnet_print_mac(net.mac);
	serial_puts("\n");
}

/* Has more than ms passed since TSC value t0? The TSC is read every 64th
 * call only (emulated guests: keep idle loops cheap), so the value used may
 * be older than t0: hence the signed difference. */
static int over(uint64_t t0, uint64_t ms)
{
	static uint64_t last;
	static unsigned calls;

	if (calls++ % 64 == 0)
		last = vnet_tsc();
	return (int64_t)(last - t0) > (int64_t)(ms * VNET_TSC_PER_MS);
}

static void send_test(const uint8_t *dst, uint32_t seq)
{
	uint8_t *f = vnet_tx_alloc(&net);

	memcpy(f, dst, ETH_ALEN);
	memcpy(f + ETH_ALEN, net.mac, ETH_ALEN);
	be16_put(f + 12, ETHERTYPE_PEER);
	uint8_t *p = f + ETH_HLEN;
	be32_put(p, seq);
	for (uint32_t i = 4; i < PAYLOAD_LEN; i++)
		p[i] = (uint8_t)(seq + i);
	vnet_tx_send(&net, f, FRAME_LEN);
}

/* 1: echo of seq, payload good; 0: not an echo of seq (ignore it);
 * -1: echo of seq with a bad payload. */
static int check_echo(const uint8_t *f, uint32_t len, uint32_t seq,
		      const uint8_t *peer)
{
	if (len < ETH_HLEN + 4 || be16_get(f + 12) != ETHERTYPE_PEER ||
	    !mac_eq(f, net.mac))
		return 0;
	if (peer && !mac_eq(f + ETH_ALEN, peer))
		return 0;
	const uint8_t *p = f + ETH_HLEN;
	if (be32_get(p) != seq)
		return 0;
	if (len < FRAME_LEN)
		return -1;
	for (uint32_t i = 4; i < PAYLOAD_LEN; i++)
		if (p[i] != (uint8_t)(seq + i))
			return -1;
	return 1;
}

static int role_a(uint32_t frames, uint32_t report, uint64_t echo_wait_ms)
{
	uint8_t peer[ETH_ALEN];
	int have_peer = 0;
	uint32_t seq = 0;

	ready('a');
	uint64_t t_start = vnet_tsc();  /* waiting for seq since */
	uint64_t t_sent = t_start;
	send_test(broadcast, 0);
	for (;;) {
		uint32_t len;
		const uint8_t *f = vnet_rx(&net, &len);

		if (f) {
			int r = check_echo(f, len, seq, have_peer ? peer : NULL);
			if (r == 1 && !have_peer) {
				memcpy(peer, f + ETH_ALEN, ETH_ALEN);
				have_peer = 1;
			}
			vnet_rx_done(&net);
			if (r < 0) {
				serial_puts("net-peer a bad frame seq=");
				print_u64(seq);
				serial_puts("\n");
				return 3;
			}
			if (r == 0)
				continue;
			if (++seq == frames) {
				serial_puts("net-peer a ok frames=");
				print_u64(frames);
				serial_puts("\n");
				return 0;
			}
			if (report && seq % report == 0) {
				serial_puts("net-peer a at ");
				print_u64(seq);
				serial_puts("\n");
			}
			send_test(peer, seq);
			t_start = t_sent = vnet_tsc();
			continue;
		}

		if (over(t_start, seq == 0 ? FIRST_ECHO_MS : echo_wait_ms)) {
			serial_puts("net-peer a timeout\n");
			return 6;
		}
		if (over(t_sent, seq == 0 ? PROBE_EVERY_MS : RESEND_MS)) {
			send_test(have_peer ? peer : broadcast, seq);
			t_sent = vnet_tsc();
		}
	}
}

static int role_b(uint32_t frames)
{
	uint32_t echoed = 0;

	ready('b');
	uint64_t t_new = vnet_tsc();    /* last new sequence number */
	for (;;) {
		uint32_t len;
		const uint8_t *f = vnet_rx(&net, &len);

		if (!f) {
			if (over(t_new, B_IDLE_MS)) {
				serial_puts("net-peer b timeout\n");
				return 6;
			}
			continue;
		}
		if (len >= ETH_HLEN && len <= ETH_FRAME_MAX &&
		    be16_get(f + 12) == ETHERTYPE_PEER &&
		    (mac_eq(f, net.mac) || mac_is_broadcast(f)) &&
		    !mac_eq(f + ETH_ALEN, net.mac)) {
			uint8_t *e = vnet_tx_alloc(&net);
			memcpy(e, f + ETH_ALEN, ETH_ALEN);
			memcpy(e + ETH_ALEN, net.mac, ETH_ALEN);
			memcpy(e + 2 * ETH_ALEN, f + 2 * ETH_ALEN,
			       len - 2 * ETH_ALEN);
			vnet_tx_send(&net, e, len);
			if (len >= ETH_HLEN + 4) {
				uint32_t s = be32_get(f + ETH_HLEN);
				if (s < frames && !(seen[s / 8] & (1u << (s % 8)))) {
					seen[s / 8] |= (uint8_t)(1u << (s % 8));
					echoed++;
					t_new = vnet_tsc();
				}
			}
		}
		vnet_rx_done(&net);
		if (echoed == frames) {
			vnet_tx_flush(&net);
			serial_puts("net-peer b echoed ");
			print_u64(frames);
			serial_puts("\n");
			return 0;
		}
	}
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;

	const char *role = cmdline_str("role");
	char r = 'a';
	if (role && (role[0] == 'a' || role[0] == 'b') &&
	    (role[1] == '\0' || role[1] == ' '))
		r = role[0];
	uint64_t frames = cmdline_u64("frames", 20);
	if (frames < 1)
		frames = 1;
	if (frames > MAX_FRAMES)
		frames = MAX_FRAMES;

	if (vnet_init(&net) != 0) {
		serial_puts("net-peer: no device\n");
		return 4;
	}
	uint64_t report = cmdline_u64("report", 0);
	if (report > MAX_FRAMES)
		report = MAX_FRAMES;
	uint64_t wait = cmdline_u64("wait", ECHO_WAIT_MS);
	if (wait < 100)
		wait = 100;
	if (wait > 600000)
		wait = 600000;
	return r == 'b' ? role_b((uint32_t)frames) : role_a((uint32_t)frames, (uint32_t)report, wait);
}
