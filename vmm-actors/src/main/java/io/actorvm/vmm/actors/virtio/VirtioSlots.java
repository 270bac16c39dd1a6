package io.actorvm.vmm.actors.virtio;

import java.util.ArrayList;
import java.util.List;

/**
 * Where virtio-mmio devices live: 4 KiB windows from {@link #BASE} in the 32-bit MMIO hole, each
 * with its own interrupt line. The same list goes into the ACPI DSDT (so Linux finds them) and onto
 * the I/O bus. GSIs skip the ISA lines that have owners (timer, keyboard, cascade, serial, RTC, mouse, IDE).
 */
public final class VirtioSlots {
    public static final long BASE = 0xD100_0000L;
    public static final long WINDOW = 0x1000;
    static final int[] GSIS = {5, 6, 7, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23};
    public static final int MAX_DEVICES = GSIS.length;

    public record Slot(int index, long base, int gsi) {}

    private VirtioSlots() {}

    public static List<Slot> first(int count) {
        if (count < 0 || count > MAX_DEVICES) throw new IllegalArgumentException("at most " + MAX_DEVICES + " virtio devices, not " + count);
        List<Slot> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) out.add(new Slot(i, BASE + i * WINDOW, GSIS[i]));
        return out;
    }
}
