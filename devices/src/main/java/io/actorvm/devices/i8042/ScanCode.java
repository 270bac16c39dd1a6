package io.actorvm.devices.i8042;

import java.io.ByteArrayOutputStream;
import java.util.List;

/**
 * The keys the host can press on the guest's keyboard, with their codes in scan code set 2 (what a
 * PS/2 keyboard sends) and set 1 (what the 8042 hands the guest with translation on). Only the keys
 * of the host actions actorvm offers are here; a set-2 code not listed is one this keyboard lacks.
 */
public enum ScanCode {
    LEFT_CTRL(false, 0x14, 0x1D),
    LEFT_ALT(false, 0x11, 0x38),
    DELETE(true, 0x71, 0x53);

    /** Set 2: 0xE0 comes before an extended key's code; 0xF0 before a code means "released". */
    static final int EXTENDED_PREFIX = 0xE0, BREAK_PREFIX = 0xF0;

    final boolean extended;
    final int set2, set1;

    ScanCode(boolean extended, int set2, int set1) {
        this.extended = extended;
        this.set2 = set2;
        this.set1 = set1;
    }

    /** The set-1 code of set-2 code {@code set2}, or -1 for a key not listed. */
    static int toSet1(int set2) {
        for (ScanCode k : values()) if (k.set2 == set2) return k.set1;
        return -1;
    }

    /** Set-2 bytes pressing {@code presses} in order, then releasing {@code releases} in order. */
    static byte[] sequence(List<ScanCode> presses, List<ScanCode> releases) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ScanCode k : presses) {
            if (k.extended) out.write(EXTENDED_PREFIX);
            out.write(k.set2);
        }
        for (ScanCode k : releases) {
            if (k.extended) out.write(EXTENDED_PREFIX);
            out.write(BREAK_PREFIX);
            out.write(k.set2);
        }
        return out.toByteArray();
    }
}
