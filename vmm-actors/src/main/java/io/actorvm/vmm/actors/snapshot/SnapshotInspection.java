package io.actorvm.vmm.actors.snapshot;

import io.actorvm.io.buffering.virtq.SplitQueue;

import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Segment;
import io.actorvm.kvm.Sregs;
import io.actorvm.kvm.VcpuState;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.mmu.paging.PageTableWalker;
import io.actorvm.persistence.PageStore;
import io.actorvm.persistence.Sha256;
import io.actorvm.persistence.SnapshotManifests;
import io.actorvm.persistence.proto.SnapshotManifest;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A stored snapshot opened for reading, without KVM: its vCPUs' registers, its RAM by
 * guest-physical address or through a vCPU's page tables by virtual address, its devices' states,
 * and what changed between two snapshots ({@link #diff}). RAM is rebuilt on first use in
 * anonymous memory (only pages that are not zero cost anything) or mapped from the snapshot's
 * memory file, exactly as a restore would see it.
 */
public final class SnapshotInspection implements AutoCloseable {
    private final SnapshotStore store;
    private final VmSnapshots.Loaded snapshot;
    private GuestMemory memory;

    private SnapshotInspection(SnapshotStore store, VmSnapshots.Loaded snapshot) {
        this.store = store;
        this.snapshot = snapshot;
    }

    /** Opens snapshot {@code id} of the data directory (its chain read and verified up to its states). */
    public static SnapshotInspection open(SnapshotStore store, String id) {
        return new SnapshotInspection(store, VmSnapshots.load(store, id));
    }

    public SnapshotManifest manifest() {
        return snapshot.leaf();
    }

    public int vcpuCount() {
        return snapshot.leaf().getVcpusCount();
    }

    /** vCPU {@code index}'s state as it was captured (CPUID is not part of it). */
    public VcpuState vcpu(int index) {
        return VmSnapshots.vcpuState(store, snapshot, index, List.of());
    }

    /** Each device's state record, by device name, in the order the snapshot lists them. */
    public Map<String, Record> devices() {
        Map<String, Record> out = new LinkedHashMap<>();
        VmSnapshots.deviceStates(store, snapshot).forEach((name, bytes) -> out.put(name, io.actorvm.devices.DeviceStates.decode(bytes)));
        return out;
    }

    /** Chains listed per queue at most; a ring holds up to 32768. */
    static final int MAX_PENDING_SHOWN = 64;

    /**
     * Each virtio queue in readable form: its progress as the snapshot keeps it, and the chains
     * the driver had made available that the device had not taken yet, walked in the snapshot's
     * RAM (the guest's ring is checked as the device checks it: a bad one is said, not followed).
     */
    public List<String> queues() {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Record> d : devices().entrySet()) {
            if (!(d.getValue() instanceof io.actorvm.devices.virtio.VirtioDeviceState v)) continue;
            out.add(d.getKey() + ":");
            for (int q = 0; q < v.queues().size(); q++) {
                SplitQueue.State st = v.queues().get(q);
                if (st == null) {
                    out.add("  queue " + q + ": not running");
                    continue;
                }
                out.add("  queue %d: size %d, desc 0x%x, avail 0x%x, used 0x%x, event_idx %b, indirect %b, last_avail_idx %d, used_idx %d"
                        .formatted(q, st.size(), st.descTable(), st.availRing(), st.usedRing(), st.eventIdx(), st.indirectDescriptors(),
                                st.lastAvailIdx(), st.usedIdx()));
                pending(st, out);
            }
        }
        return out;
    }

    private void pending(SplitQueue.State st, List<String> out) {
        try {
            SplitQueue queue = new SplitQueue(memory(), st); // a copy over the snapshot's RAM: popping changes nothing stored
            int shown = 0;
            for (var chain = queue.pop(); chain.isPresent(); chain = queue.pop()) {
                if (shown++ == MAX_PENDING_SHOWN) {
                    out.add("    … more pending chains not shown");
                    return;
                }
                StringBuilder b = new StringBuilder("    pending chain " + chain.get().head() + ":");
                for (var seg : chain.get().segments()) {
                    b.append(" %s 0x%x+%d".formatted(seg.writable() ? "w" : "r", seg.address().value(), seg.length()));
                }
                out.add(b.toString());
            }
            if (shown == 0) out.add("    no pending chains");
        } catch (RuntimeException e) {
            out.add("    the ring is not valid here: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
        }
    }

    /** The snapshot's RAM, rebuilt on first use. */
    public synchronized GuestMemory memory() {
        if (memory == null) {
            AddressMap map = new AddressMap(snapshot.config().getMemoryBytes());
            String file = snapshot.chain().getFirst().getMemoryFile();
            GuestMemory m = file.isEmpty() ? GuestMemory.allocate(map) : GuestMemory.mapFile(map, java.nio.file.Path.of(file));
            try {
                VmSnapshots.restoreMemory(store, snapshot, m);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            memory = m;
        }
        return memory;
    }

    /** {@code length} bytes of RAM at guest-physical {@code address}; GuestMemoryException outside RAM. */
    public byte[] readPhysical(long address, int length) {
        return memory().read(GuestAddress.of(address), length);
    }

    /** {@code length} bytes at virtual {@code address} through vCPU {@code cpu}'s page tables; PageFaultException where unmapped. */
    public byte[] readVirtual(int cpu, long address, int length) {
        Sregs s = vcpu(cpu).sregs();
        return PageTableWalker.of(memory(), s.cr0(), s.cr3(), s.cr4(), s.efer()).read(address, length);
    }

    /** Each page's content hash (guest page number to SHA-256), as a restore would fill RAM. */
    public Map<Long, String> pageHashes() {
        Map<Long, String> out = new HashMap<>();
        String file = snapshot.chain().getFirst().getMemoryFile();
        if (!file.isEmpty()) {
            // A mapped memory file has no page list: hash what it holds (the levels above overwrite below).
            GuestMemory m = memory();
            for (GuestMemory.Region r : m.regions()) {
                long first = r.guestAddress().value() / PageStore.PAGE_SIZE;
                MemorySegment host = r.host();
                for (long p = 0; p < r.size() / PageStore.PAGE_SIZE; p++) {
                    out.put(first + p, Sha256.hex(host.asSlice(p * PageStore.PAGE_SIZE, PageStore.PAGE_SIZE)));
                }
            }
            return out;
        }
        SnapshotManifests.forEachEffectivePage(snapshot.chain(), (gpn, sha) -> out.put(gpn, Sha256.toHex(sha)));
        return out;
    }

    /**
     * What differs from {@code a} to {@code b}, one line each: the RAM pages (as address ranges),
     * every vCPU register, control register and segment that changed, every device field that
     * changed, and devices or vCPUs only one of them has.
     */
    public static List<String> diff(SnapshotInspection a, SnapshotInspection b) {
        List<String> out = new ArrayList<>();
        if (a.snapshot.config().getMemoryBytes() != b.snapshot.config().getMemoryBytes()) {
            out.add("memory: " + (a.snapshot.config().getMemoryBytes() >> 20) + " MiB -> " + (b.snapshot.config().getMemoryBytes() >> 20) + " MiB");
        }
        Map<Long, String> pa = a.pageHashes(), pb = b.pageHashes();
        String zero = PageStore.ZERO_PAGE_HASH;
        TreeSet<Long> changed = new TreeSet<>();
        TreeSet<Long> all = new TreeSet<>(pa.keySet());
        all.addAll(pb.keySet());
        for (long gpn : all) {
            if (!pa.getOrDefault(gpn, zero).equals(pb.getOrDefault(gpn, zero))) changed.add(gpn);
        }
        out.add("pages: " + changed.size() + " differ" + (changed.isEmpty() ? "" : " " + ranges(changed)));
        for (int i = 0; i < Math.max(a.vcpuCount(), b.vcpuCount()); i++) {
            if (i >= a.vcpuCount() || i >= b.vcpuCount()) {
                out.add("vcpu" + i + ": only in " + (i < a.vcpuCount() ? "the first" : "the second"));
                continue;
            }
            VcpuState x = a.vcpu(i), y = b.vcpu(i);
            fields("vcpu" + i, x.regs(), y.regs(), out);
            fields("vcpu" + i, x.sregs(), y.sregs(), out);
            if (x.mpState() != y.mpState()) out.add("vcpu" + i + ".mp_state: " + x.mpState() + " -> " + y.mpState());
        }
        Map<String, Record> da = a.devices(), db = b.devices();
        for (String name : da.keySet()) {
            if (!db.containsKey(name)) out.add("device " + name + ": only in the first");
            else fields("device " + name, da.get(name), db.get(name), out);
        }
        for (String name : db.keySet()) if (!da.containsKey(name)) out.add("device " + name + ": only in the second");
        return out;
    }

    /** The components of two records of one type that differ, recursing into nested records. */
    static void fields(String prefix, Record x, Record y, List<String> out) {
        for (RecordComponent c : x.getClass().getRecordComponents()) {
            Object vx, vy;
            try {
                vx = c.getAccessor().invoke(x);
                vy = c.getAccessor().invoke(y);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + c, e);
            }
            String name = prefix + "." + c.getName();
            if (vx instanceof Record rx && vy instanceof Record ry && rx.getClass() == ry.getClass()) {
                fields(name, rx, ry, out);
            } else if (!java.util.Objects.deepEquals(vx, vy)) {
                out.add(name + ": " + show(vx) + " -> " + show(vy));
            }
        }
    }

    /** A value as a line shows it: numbers in hex (and decimal when small), arrays by their elements. */
    public static String show(Object v) {
        return switch (v) {
            case null -> "none";
            case Long l -> "0x" + Long.toHexString(l) + (l >= 0 && l < 1_000_000 ? " (" + l + ")" : "");
            case Integer i -> "0x" + Integer.toHexString(i) + (i >= 0 && i < 1_000_000 ? " (" + i + ")" : "");
            case byte[] b -> b.length > 32 ? b.length + " bytes" : java.util.HexFormat.of().formatHex(b);
            case long[] l -> Arrays.stream(l).mapToObj(Long::toHexString).toList().toString();
            case int[] i -> Arrays.toString(i);
            default -> v.toString();
        };
    }

    /** Registers as {@code inspect regs} prints them. */
    public static List<String> describe(Regs r, Sregs s) {
        List<String> out = new ArrayList<>();
        out.add(String.format("rip=%016x rsp=%016x rbp=%016x rflags=%08x", r.rip(), r.rsp(), r.rbp(), r.rflags()));
        out.add(String.format("rax=%016x rbx=%016x rcx=%016x rdx=%016x", r.rax(), r.rbx(), r.rcx(), r.rdx()));
        out.add(String.format("rsi=%016x rdi=%016x r8 =%016x r9 =%016x", r.rsi(), r.rdi(), r.r8(), r.r9()));
        out.add(String.format("r10=%016x r11=%016x r12=%016x r13=%016x", r.r10(), r.r11(), r.r12(), r.r13()));
        out.add(String.format("r14=%016x r15=%016x", r.r14(), r.r15()));
        out.add(String.format("cr0=%016x cr2=%016x cr3=%016x cr4=%016x efer=%x", s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.efer()));
        for (var seg : List.of(Map.entry("cs", s.cs()), Map.entry("ss", s.ss()), Map.entry("ds", s.ds()), Map.entry("fs", s.fs()),
                Map.entry("gs", s.gs()))) {
            Segment g = seg.getValue();
            out.add(String.format("%s=%04x base=%016x limit=%08x type=%x dpl=%d%s", seg.getKey(), g.selector(), g.base(), g.limit(),
                    g.type(), g.dpl(), g.l() ? " 64-bit" : ""));
        }
        out.add(String.format("gdt=%016x/%x idt=%016x/%x", s.gdt().base(), s.gdt().limit(), s.idt().base(), s.idt().limit()));
        return out;
    }

    /** Consecutive page numbers as guest-physical address ranges: {@code 0x1000-0x2fff 0x9000}. */
    static String ranges(TreeSet<Long> pages) {
        StringBuilder b = new StringBuilder();
        Long start = null, prev = null;
        for (long p : pages) {
            if (prev != null && p == prev + 1) {
                prev = p;
                continue;
            }
            if (start != null) append(b, start, prev);
            start = p;
            prev = p;
        }
        if (start != null) append(b, start, prev);
        return b.toString().strip();
    }

    private static void append(StringBuilder b, long first, long last) {
        b.append(" 0x").append(Long.toHexString(first * PageStore.PAGE_SIZE));
        if (last != first) b.append("-0x").append(Long.toHexString((last + 1) * PageStore.PAGE_SIZE - 1));
    }

    @Override
    public synchronized void close() {
        if (memory != null) memory.close();
    }
}
