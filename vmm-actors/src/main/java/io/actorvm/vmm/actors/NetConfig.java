package io.actorvm.vmm.actors;

import java.util.Objects;

/**
 * A virtio-net device and where its frames go: {@code tap=NAME} (a host tap device),
 * {@code switch=NAME} (a switch inside the actor system, shared by every VM naming it).
 */
public record NetConfig(Kind kind, String name, byte[] mac) {
    public enum Kind { TAP, SWITCH }

    public NetConfig {
        Objects.requireNonNull(kind);
        Objects.requireNonNull(name);
        if (mac != null && mac.length != 6) throw new IllegalArgumentException("a MAC address has 6 bytes");
        mac = mac == null ? null : mac.clone();
    }

    @Override
    public byte[] mac() {
        return mac == null ? null : mac.clone();
    }

    /** Parses {@code tap=NAME[,mac=..]} or {@code switch=NAME[,mac=..]}; {@code none} gives null. */
    public static NetConfig parse(String spec) {
        if (spec.equals("none")) return null;
        String[] parts = spec.split(",");
        byte[] mac = null;
        for (int i = 1; i < parts.length; i++) {
            if (!parts[i].startsWith("mac=")) throw new IllegalArgumentException("bad network option '" + parts[i] + "' in '" + spec + "'");
            mac = parseMac(parts[i].substring(4));
        }
        String[] kv = parts[0].split("=", 2);
        if (kv.length != 2 || kv[1].isEmpty()) throw new IllegalArgumentException("bad network '" + spec + "' (use tap=NAME, switch=NAME or none)");
        return switch (kv[0]) {
            case "tap" -> new NetConfig(Kind.TAP, kv[1], mac);
            case "switch" -> new NetConfig(Kind.SWITCH, kv[1], mac);
            default -> throw new IllegalArgumentException("bad network '" + spec + "' (use tap=NAME, switch=NAME or none)");
        };
    }

    static byte[] parseMac(String text) {
        String[] b = text.split(":");
        if (b.length != 6) throw new IllegalArgumentException("bad MAC address '" + text + "'");
        byte[] mac = new byte[6];
        try {
            for (int i = 0; i < 6; i++) mac[i] = (byte) Integer.parseInt(b[i], 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad MAC address '" + text + "'");
        }
        return mac;
    }

    /** {@code mac} as {@code 02:41:0a:...} (the form {@link #parse} reads). */
    public static String formatMac(byte[] mac) {
        return java.util.HexFormat.ofDelimiter(":").formatHex(mac);
    }

    /** The configured MAC, or a locally administered one derived from the VM name and device index. */
    public byte[] macFor(String vmName, int index) {
        if (mac != null) return mac.clone();
        int h = vmName.hashCode();
        return new byte[] {0x02, 0x41, (byte) (h >> 16), (byte) (h >> 8), (byte) h, (byte) index};
    }
}
