/*
 * net-icmp: answer ARP and ICMP echo ("ping") for one IPv4 address over
 * virtio-net (common/virtio-net.h), e.g. from a host on a tap device.
 *
 * Command line: ip=A.B.C.D (default 10.0.2.15), count=N (default 3, at
 * least 1).
 *
 *   "net-icmp ready ip=A.B.C.D mac=M"   after device init
 *   "net-icmp arp"                      the first time an ARP request is
 *                                       answered
 *   "net-icmp answered N"               after the N-th echo reply has been
 *                                       taken by the device: exit 0
 * No device: "net-icmp: no device", exit 4; library failures as in
 * common/virtio.h (5, 6, 7). A "virtio: dev ..." line comes first. There is
 * no timeout: the guest waits for pings.
 *
 * Answered (everything else, IPv6 included, is dropped):
 *  - ARP (EtherType 0x0806) to broadcast or our MAC: Ethernet/IPv4
 *    (htype 1, ptype 0x0800, hlen 6, plen 4), opcode 1, target protocol
 *    address = our IP, sender hardware address not multicast -> opcode 2
 *    to the sender.
 *  - IPv4 (0x0800) to our MAC: version 4, IHL >= 5, header checksum good,
 *    IHL*4 + 8 <= total length <= bytes present, not a fragment, protocol
 *    1, destination = our IP, source not 0.0.0.0 / multicast / broadcast,
 *    ICMP type 8 code 0 with a good checksum -> IPv4 header of 20 bytes
 *    (options dropped; TOS and id copied; flags/offset 0; TTL 64; IPs
 *    swapped; checksum recomputed) + the ICMP message with type 0 and its
 *    checksum recomputed, to the sender's MAC.
 * Every length is checked before the bytes are read.
 */
#include "common/lib.h"
#include "common/virtio.h"
#include "common/virtio-net.h"

#define ETHERTYPE_IPV4          0x0800
#define ETHERTYPE_ARP           0x0806
#define ARP_LEN                 28
#define IPV4_HLEN               20
#define ICMP_HLEN               8
#define IPPROTO_ICMP            1
#define ICMP_ECHO_REPLY         0
#define ICMP_ECHO_REQUEST       8

static struct vnet net;
static uint8_t my_ip[4] = { 10, 0, 2, 15 };

/* "A.B.C.D" (each 0..255, ending at a space or the end) into ip; 0 if it
 * is malformed (ip unchanged then). */
static int parse_ip(const char *s, uint8_t *ip)
{
	uint8_t v[4];

	for (int i = 0; i < 4; i++) {
		if (*s < '0' || *s > '9')
			return 0;
		uint32_t x = 0;
		for (int d = 0; *s >= '0' && *s <= '9'; d++, s++) {
			x = x * 10 + (uint32_t)(*s - '0');
			if (d >= 3 || x > 255)
				return 0;
		}
		v[i] = (uint8_t)x;
		if (i < 3 && *s++ != '.')
			return 0;
	}
	if (*s != '\0' && *s != ' ')
		return 0;
	memcpy(ip, v, 4);
	return 1;
}

static void print_ip(const uint8_t *ip)
{
	for (int i = 0; i < 4; i++) {
		print_u64(ip[i]);
		if (i < 3)
			serial_putc('.');
	}
}

static int ip_eq(const uint8_t *a, const uint8_t *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* Internet checksum (RFC 1071) of n bytes: 0 over data that includes a
 * correct checksum field. */
static uint16_t inet_csum(const uint8_t *p, uint32_t n)
{
	uint32_t s = 0;

	for (; n > 1; n -= 2, p += 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return (uint16_t)~s;
}

/* a: the ARP packet, n bytes of it present. 1 if answered. */
static int handle_arp(const uint8_t *a, uint32_t n)
{
	if (n < ARP_LEN)
		return 0;
	if (be16_get(a) != 1 || be16_get(a + 2) != ETHERTYPE_IPV4 ||
	    a[4] != ETH_ALEN || a[5] != 4 || be16_get(a + 6) != 1)
		return 0;
	const uint8_t *sha = a + 8, *spa = a + 14, *tpa = a + 24;
	if (!ip_eq(tpa, my_ip) || (sha[0] & 1))
		return 0;

	uint8_t *f = vnet_tx_alloc(&net);
	memcpy(f, sha, ETH_ALEN);
	memcpy(f + ETH_ALEN, net.mac, ETH_ALEN);
	be16_put(f + 12, ETHERTYPE_ARP);
	uint8_t *r = f + ETH_HLEN;
	be16_put(r, 1);
	be16_put(r + 2, ETHERTYPE_IPV4);
	r[4] = ETH_ALEN;
	r[5] = 4;
	be16_put(r + 6, 2);
	memcpy(r + 8, net.mac, ETH_ALEN);
	memcpy(r + 14, my_ip, 4);
	memcpy(r + 18, sha, ETH_ALEN);
	memcpy(r + 24, spa, 4);
	vnet_tx_send(&net, f, ETH_HLEN + ARP_LEN);
	return 1;
}

/* src_mac: the frame's source; ip: the IPv4 packet, n bytes present.
 * 1 if an echo reply was sent. */
static int handle_ipv4(const uint8_t *src_mac, const uint8_t *ip, uint32_t n)
{
	if (n < IPV4_HLEN || (ip[0] >> 4) != 4)
		return 0;
	uint32_t hl = (uint32_t)(ip[0] & 0xF) * 4;
	uint32_t tot = be16_get(ip + 2);
	if (hl < IPV4_HLEN || hl > n || tot < hl + ICMP_HLEN || tot > n)
		return 0;
	if ((be16_get(ip + 6) & 0x3FFF) != 0)  /* MF or an offset */
		return 0;
	if (ip[9] != IPPROTO_ICMP || !ip_eq(ip + 16, my_ip))
		return 0;
	const uint8_t *sip = ip + 12;
	if ((sip[0] == 0 && sip[1] == 0 && sip[2] == 0 && sip[3] == 0) ||
	    sip[0] >= 224 || (src_mac[0] & 1))
		return 0;           /* 0.0.0.0, multicast, class E, broadcast */
	if (inet_csum(ip, hl) != 0)
		return 0;
	const uint8_t *icmp = ip + hl;
	uint32_t ilen = tot - hl;
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
		return 0;
	if (ETH_HLEN + IPV4_HLEN + ilen > ETH_FRAME_MAX)
		return 0;
	if (inet_csum(icmp, ilen) != 0)
		return 0;

	uint8_t *f = vnet_tx_alloc(&net);
	memcpy(f, src_mac, ETH_ALEN);
	memcpy(f + ETH_ALEN, net.mac, ETH_ALEN);
	be16_put(f + 12, ETHERTYPE_IPV4);
	uint8_t *h = f + ETH_HLEN;
	h[0] = 0x45;
	h[1] = ip[1];                           /* TOS */
	be16_put(h + 2, (uint16_t)(IPV4_HLEN + ilen));
	h[4] = ip[4];                           /* identification */
	h[5] = ip[5];
	be16_put(h + 6, 0);                     /* flags, fragment offset */
	h[8] = 64;                              /* TTL */
	h[9] = IPPROTO_ICMP;
	be16_put(h + 10, 0);
	memcpy(h + 12, my_ip, 4);
	memcpy(h + 16, sip, 4);
	be16_put(h + 10, inet_csum(h, IPV4_HLEN));
	uint8_t *r = h + IPV4_HLEN;
	memcpy(r, icmp, ilen);                  /* id, sequence, data */
	r[0] = ICMP_ECHO_REPLY;
	r[1] = 0;
	be16_put(r + 2, 0);
	be16_put(r + 2, inet_csum(r, ilen));
	vnet_tx_send(&net, f, ETH_HLEN + IPV4_HLEN + ilen);
	return 1;
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;

	const char *s = cmdline_str("ip");
	if (s)
		parse_ip(s, my_ip);
	uint64_t count = cmdline_u64("count", 3);
	if (count < 1)
		count = 1;

	if (vnet_init(&net) != 0) {
		serial_puts("net-icmp: no device\n");
		return 4;
	}
	serial_puts("net-icmp ready ip=");
	print_ip(my_ip);
	serial_puts(" mac=");
	vnet_print_mac(net.mac);
	serial_puts("\n");

	uint64_t answered = 0;
	int arp_said = 0;
	while (answered < count) {
		uint32_t len;
		const uint8_t *f = vnet_rx(&net, &len);

		if (!f)
			continue;
		int arp = 0;
		if (len >= ETH_HLEN) {
			const uint8_t *dst = f, *src = f + ETH_ALEN;
			uint16_t type = be16_get(f + 12);
			int to_me = mac_eq(dst, net.mac);

			if (type == ETHERTYPE_ARP && (to_me || mac_is_broadcast(dst)))
				arp = handle_arp(f + ETH_HLEN, len - ETH_HLEN);
			else if (type == ETHERTYPE_IPV4 && to_me)
				answered += (uint64_t)handle_ipv4(src, f + ETH_HLEN,
								  len - ETH_HLEN);
		}
		vnet_rx_done(&net);
		if (arp && !arp_said) {
			serial_puts("net-icmp arp\n");
			arp_said = 1;
		}
	}
	vnet_tx_flush(&net);
	serial_puts("net-icmp answered ");
	print_u64(count);
	serial_puts("\n");
	return 0;
}
