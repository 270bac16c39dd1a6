package io.actorvm.control.cli;

import java.util.Locale;

/** Parses sizes like {@code 16M}, {@code 1G}, {@code 512KiB} or plain bytes, as QEMU's {@code -m} does. */
final class SizeParser {
    private SizeParser() {}

    static long parse(String text) {
        String s = text.trim().toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) s = s.substring(0, s.length() - 2);
        else if (s.endsWith("B") && s.length() > 1 && !Character.isDigit(s.charAt(s.length() - 2))) s = s.substring(0, s.length() - 1);
        int shift = 0;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> { }
            }
        }
        if (shift != 0) s = s.substring(0, s.length() - 1);
        long n;
        try {
            n = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad size '" + text + "' (use e.g. 16M, 1G or a byte count)");
        }
        if (n <= 0 || n > (Long.MAX_VALUE >> shift)) throw new IllegalArgumentException("bad size '" + text + "'");
        return n << shift;
    }
}
