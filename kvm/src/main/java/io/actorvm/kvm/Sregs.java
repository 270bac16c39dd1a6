package io.actorvm.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Special registers, {@code struct kvm_sregs} (312 bytes). */
public record Sregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss, Segment tr,
                    Segment ldt, DescriptorTable gdt, DescriptorTable idt, long cr0, long cr2, long cr3,
                    long cr4, long cr8, long efer, long apicBase, long[] interruptBitmap) {

    public static final long CR0_PE = 1L, CR0_ET = 1L << 4, CR0_PG = 1L << 31;

    public Sregs {
        interruptBitmap = interruptBitmap.clone();
    }

    @Override
    public long[] interruptBitmap() {
        return interruptBitmap.clone();
    }

    /** Value equality, including the contents of the interrupt bitmap. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Sregs x && cs.equals(x.cs) && ds.equals(x.ds) && es.equals(x.es) && fs.equals(x.fs)
                && gs.equals(x.gs) && ss.equals(x.ss) && tr.equals(x.tr) && ldt.equals(x.ldt) && gdt.equals(x.gdt)
                && idt.equals(x.idt) && cr0 == x.cr0 && cr2 == x.cr2 && cr3 == x.cr3 && cr4 == x.cr4 && cr8 == x.cr8
                && efer == x.efer && apicBase == x.apicBase && java.util.Arrays.equals(interruptBitmap, x.interruptBitmap);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase,
                java.util.Arrays.hashCode(interruptBitmap));
    }

    public static Sregs read(MemorySegment m) {
        Segment[] seg = new Segment[8];
        for (int i = 0; i < 8; i++) seg[i] = Segment.read(m, i * 24L);
        long[] bitmap = new long[4];
        for (int i = 0; i < 4; i++) bitmap[i] = m.get(JAVA_LONG, 280 + i * 8L);
        return new Sregs(seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
                DescriptorTable.read(m, 192), DescriptorTable.read(m, 208),
                m.get(JAVA_LONG, 224), m.get(JAVA_LONG, 232), m.get(JAVA_LONG, 240), m.get(JAVA_LONG, 248),
                m.get(JAVA_LONG, 256), m.get(JAVA_LONG, 264), m.get(JAVA_LONG, 272), bitmap);
    }

    public void write(MemorySegment m) {
        Segment[] seg = {cs, ds, es, fs, gs, ss, tr, ldt};
        for (int i = 0; i < 8; i++) seg[i].write(m, i * 24L);
        gdt.write(m, 192);
        idt.write(m, 208);
        long[] v = {cr0, cr2, cr3, cr4, cr8, efer, apicBase};
        for (int i = 0; i < v.length; i++) m.set(JAVA_LONG, 224 + i * 8L, v[i]);
        for (int i = 0; i < 4; i++) m.set(JAVA_LONG, 280 + i * 8L, interruptBitmap[i]);
    }

    /**
     * 32-bit protected mode with flat segments and paging off: the PVH entry state. Keeps the
     * fields KVM initialised (tr, ldt, apic base, ...) from {@code current}.
     */
    public Sregs flatProtectedMode() {
        Segment code = Segment.flat(0x10, true, false);
        Segment data = Segment.flat(0x18, false, false);
        return new Sregs(code, data, data, data, data, data, tr, ldt, gdt, idt,
                (cr0 | CR0_PE | CR0_ET) & ~CR0_PG, cr2, 0, 0, cr8, 0, apicBase, interruptBitmap);
    }
}
