/*
 * switch-storm: floods its virtio-net link (see the virtio-net section of
 * README.md) with 64-byte broadcast frames, EtherType 0x88B6, as fast as the
 * device takes them. `spoof=1` (default) gives every other frame a source
 * MAC that is not the device's (02:5b:xx:xx:xx:xx, xx from a counter), so a
 * switch that learns addresses is offered a new one each time. Prints
 * "switch-storm start mac=M", then "switch-storm sent N" every `every`
 * frames (default 4096); runs until the VMM stops it. Received frames are
 * taken and dropped. No device: "switch-storm: no device", exit 4.
 */
#include "common/lib.h"
#include "common/virtio.h"
#include "common/virtio-net.h"

static struct vnet net;

int guest_main(const struct hvm_start_info *si)
{
	uint64_t spoof = cmdline_u64("spoof", 1);
	uint64_t every = cmdline_u64("every", 4096);
	uint32_t len;

	(void)si;
	if (vnet_init(&net) != 0) {
		serial_puts("switch-storm: no device\n");
		return 4;
	}
	if (every == 0)
		every = 1;
	serial_puts("switch-storm start mac=");
	vnet_print_mac(net.mac);
	serial_puts("\n");
	for (uint64_t sent = 1;; sent++) {
		uint8_t *f = vnet_tx_alloc(&net);

		memset(f, 0xFF, ETH_ALEN);
		memcpy(f + ETH_ALEN, net.mac, ETH_ALEN);
		if (spoof && (sent & 1)) {
			f[6] = 0x02;
			f[7] = 0x5b;
			be32_put(f + 8, (uint32_t)sent);
		}
		be16_put(f + 12, 0x88B6);
		be32_put(f + 14, (uint32_t)sent);
		memset(f + 18, 0x5A, 46);
		vnet_tx_send(&net, f, 64);
		while (vnet_rx(&net, &len))
			vnet_rx_done(&net);
		if (sent % every == 0) {
			serial_puts("switch-storm sent ");
			print_u64(sent);
			serial_puts("\n");
		}
	}
}
