package io.actorvm.control.gdb;

import io.actorvm.kvm.GuestDebug;
import io.actorvm.kvm.Regs;
import io.actorvm.kvm.VmExit;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.paging.PageFaultException;
import io.actorvm.mmu.paging.PageWalk;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.debug.GuestDebugger;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One gdb session against a VM, all-stop: while gdb looks, every vCPU is parked; {@code c} and
 * {@code s} resume them all (the stepped one with KVM's single-step flag) until a vCPU takes a
 * debug exit (breakpoint, watchpoint, step), gdb interrupts (Ctrl-C), or the VM ends. vCPUs are
 * gdb's threads 1..n. Memory is read and written by virtual address through the selected vCPU's
 * page tables. Hardware breakpoints and watchpoints use DR0-3 ({@code KVM_GUESTDBG_USE_HW_BP}); gdb's
 * software breakpoints take a free debug register too, and only when none is left become int3
 * bytes planted in guest memory ({@code KVM_GUESTDBG_USE_SW_BP}).
 */
final class GdbStub {
    private static final Logger LOG = LoggerFactory.getLogger(GdbStub.class);
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    /** What wakes the session while the guest runs: a stop, gdb's Ctrl-C or packet, the VM's end, the connection's end. */
    sealed interface Event {}

    record Stopped(GuestDebugger.Stop stop) implements Event {}

    record FromGdb(GdbPacket.Incoming incoming) implements Event {}

    record VmEnded(Vm.Terminated how) implements Event {}

    private final ActorSystem<?> system;
    private final ActorRef<Vm.Command> vm;
    private final GuestDebugger debugger;
    private final BlockingQueue<Event> events;
    private final OutputStream out;
    /** Software breakpoints: virtual address to the guest-physical address and byte the int3 replaced. */
    private final Map<Long, long[]> softwareBreakpoints = new LinkedHashMap<>();
    /** Who asked for a debug register: gdb's software breakpoint (Z0) or a hardware one or watchpoint (Z1, Z2, Z4). */
    static final long SOFTWARE = 0, HARDWARE = 1;
    /** DR0-3: {address, condition, length, SOFTWARE or HARDWARE} or null. */
    private final long[][] hardware = new long[4][];
    private int thread = 1; // the vCPU gdb looks at (1-based)
    private boolean swbreakReports;
    /**
     * For hosts whose KVM cannot deliver breakpoint exceptions (nested under QEMU's TCG, int3 and
     * debug registers never reach KVM; single-step and port exits do): breakpoints in supervisor
     * code are planted as exiting port writes ({@link #plantExitBreakpoint}); the others and
     * watchpoints are found by single-stepping every vCPU and checking rip and the watched bytes
     * after each instruction, on the vCPU's own thread. Slow (an exit per instruction) but exact.
     */
    private final boolean stepping;
    private final java.util.Set<Long> steppedBreakpoints = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Watched ranges when stepping: {virtual address, guest-physical address, length, access}, and their last bytes. */
    private final Map<long[], byte[]> steppedWatches = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile String steppedReason = "";

    GdbStub(ActorSystem<?> system, ActorRef<Vm.Command> vm, GuestDebugger debugger, BlockingQueue<Event> events, OutputStream out,
            boolean stepping) {
        this.system = system;
        this.vm = vm;
        this.debugger = debugger;
        this.events = events;
        this.out = out;
        this.stepping = stepping;
    }

    /** Reads gdb's packets into the event queue on a thread of its own, until the connection ends. */
    static Thread reader(InputStream in, OutputStream ack, BlockingQueue<Event> events) {
        return Thread.ofPlatform().name("gdb-reader").daemon(true).start(() -> {
            try {
                while (true) {
                    GdbPacket.Incoming i = GdbPacket.read(in, ack);
                    events.add(new FromGdb(i));
                    if (i instanceof GdbPacket.Closed) return;
                }
            } catch (IOException e) {
                events.add(new FromGdb(new GdbPacket.Closed()));
            }
        });
    }

    /** Serves the session until gdb detaches, kills the VM or goes away, or the VM ends. */
    void serve() throws IOException, InterruptedException {
        while (true) {
            Event e = events.take();
            switch (e) {
                case FromGdb(GdbPacket.Packet p) -> {
                    if (!handle(p.payload())) return;
                }
                case FromGdb(GdbPacket.Interrupt i) -> { } // already stopped
                case FromGdb(GdbPacket.Closed c) -> {
                    detach();
                    return;
                }
                case Stopped s -> { } // a late report from a vCPU that stopped as the others were parked
                case VmEnded v -> {
                    send("W" + GdbPacket.littleEndian(v.how().exitStatus() & 0xFF, 1));
                    return;
                }
            }
        }
    }

    /** One packet while the VM is stopped; false when the session is over. */
    private boolean handle(String p) throws IOException, InterruptedException {
        try {
            switch (p.isEmpty() ? ' ' : p.charAt(0)) {
                case '?' -> send("T05thread:" + Integer.toHexString(thread) + ";");
                case 'g' -> send(GdbRegisters.encode(debugger.regs(vcpu()), debugger.sregs(vcpu()), debugger.fpu(vcpu())));
                case 'G' -> {
                    Regs r = debugger.regs(vcpu());
                    String hex = p.substring(1);
                    for (int n = 0; n < GdbRegisters.WRITABLE; n++) {
                        String one = GdbRegisters.one(hex, n);
                        if (!one.contains("x")) r = GdbRegisters.with(r, n, GdbPacket.parseLittleEndian(one));
                    }
                    debugger.setRegs(vcpu(), r);
                    send("OK");
                }
                case 'p' -> {
                    int n = Integer.parseInt(p.substring(1), 16);
                    if (n >= GdbRegisters.ALL.size()) send("E01");
                    else send(GdbRegisters.one(GdbRegisters.encode(debugger.regs(vcpu()), debugger.sregs(vcpu()), debugger.fpu(vcpu())), n));
                }
                case 'P' -> {
                    int eq = p.indexOf('=');
                    int n = Integer.parseInt(p.substring(1, eq), 16);
                    if (n >= GdbRegisters.WRITABLE) {
                        send("E01");
                    } else {
                        debugger.setRegs(vcpu(), GdbRegisters.with(debugger.regs(vcpu()), n, GdbPacket.parseLittleEndian(p.substring(eq + 1))));
                        send("OK");
                    }
                }
                case 'm' -> {
                    String[] a = p.substring(1).split(",");
                    long address = Long.parseUnsignedLong(a[0], 16);
                    int length = Math.min(Integer.parseInt(a[1], 16), GdbPacket.MAX / 2 - 8);
                    send(GdbPacket.HEX.formatHex(readVirtual(address, length)));
                }
                case 'M' -> {
                    int colon = p.indexOf(':');
                    String[] a = p.substring(1, colon).split(",");
                    writeVirtual(Long.parseUnsignedLong(a[0], 16), GdbPacket.HEX.parseHex(p.substring(colon + 1)));
                    send("OK");
                }
                case 'H' -> {
                    int t = parseThread(p.substring(2));
                    if (t > 0) thread = t;
                    send("OK");
                }
                case 'T' -> send(parseThread(p.substring(1)) > 0 ? "OK" : "E01");
                case 'c' -> {
                    return resume(-1);
                }
                case 's' -> {
                    return resume(vcpu());
                }
                case 'v' -> {
                    return verbose(p);
                }
                case 'q' -> query(p);
                case 'Z', 'z' -> breakpoint(p);
                case 'D' -> {
                    send("OK");
                    detach();
                    return false;
                }
                case 'k' -> {
                    detach();
                    vm.tell(new Vm.Stop("killed from gdb", system.ignoreRef()));
                    return false;
                }
                default -> send("");
            }
        } catch (PageFaultException | io.actorvm.mmu.GuestMemoryException e) {
            send("E14");
        } catch (RuntimeException e) {
            LOG.warn("gdb request {} failed: {}", p.length() > 40 ? p.substring(0, 40) + "..." : p, e.toString());
            send("E01");
        }
        return true;
    }

    private boolean verbose(String p) throws IOException, InterruptedException {
        if (p.equals("vCont?")) {
            send("vCont;c;C;s;S");
        } else if (p.startsWith("vCont;")) {
            // The first action that names a thread (or none) decides: a step of that vCPU, or continue.
            int stepped = -1;
            for (String action : p.substring(6).split(";")) {
                String kind = action.split(":")[0];
                if (kind.startsWith("s") || kind.startsWith("S")) {
                    int t = action.contains(":") ? parseThread(action.substring(action.indexOf(':') + 1)) : thread;
                    stepped = (t > 0 ? t : thread) - 1;
                    break;
                }
            }
            return resume(stepped);
        } else if (p.startsWith("vKill")) {
            vm.tell(new Vm.Stop("killed from gdb", system.ignoreRef()));
            send("OK");
            return false;
        } else {
            send("");
        }
        return true;
    }

    private void query(String p) throws IOException {
        if (p.startsWith("qSupported")) {
            swbreakReports = p.contains("swbreak+");
            send("PacketSize=" + Integer.toHexString(GdbPacket.MAX) + ";qXfer:features:read+;swbreak+;hwbreak+;vContSupported+");
        } else if (p.startsWith("qXfer:features:read:target.xml:")) {
            String[] range = p.substring("qXfer:features:read:target.xml:".length()).split(",");
            int offset = Integer.parseInt(range[0], 16), length = Integer.parseInt(range[1], 16);
            String xml = GdbRegisters.TARGET_XML;
            if (offset >= xml.length()) send("l");
            else send((offset + length >= xml.length() ? "l" : "m") + xml.substring(offset, Math.min(xml.length(), offset + length)));
        } else if (p.equals("qfThreadInfo")) {
            StringBuilder s = new StringBuilder("m");
            for (int i = 1; i <= debugger.vcpuCount(); i++) s.append(i == 1 ? "" : ",").append(Integer.toHexString(i));
            send(s.toString());
        } else if (p.equals("qsThreadInfo")) {
            send("l");
        } else if (p.equals("qC")) {
            send("QC" + Integer.toHexString(thread));
        } else if (p.equals("qAttached")) {
            send("1");
        } else if (p.startsWith("qThreadExtraInfo,")) {
            int t = parseThread(p.substring(17));
            send(GdbPacket.HEX.formatHex(("vCPU " + (t - 1)).getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        } else {
            send("");
        }
    }

    /** Z/z type,addr,kind: 0 software, 1 hardware breakpoint, 2 write, 3 read (not on x86), 4 access watchpoint. */
    private void breakpoint(String p) throws IOException {
        boolean insert = p.charAt(0) == 'Z';
        String[] a = p.substring(1).split("[,;]");
        int type = Integer.parseInt(a[0]);
        long address = Long.parseUnsignedLong(a[1], 16);
        int kind = Integer.parseInt(a[2], 16);
        if (stepping) {
            steppingBreakpoint(insert, type, address, kind);
            return;
        }
        switch (type) {
            case 0 -> {
                if (insert) {
                    // A free debug register first: nothing is written into the guest, and it works where
                    // int3 is not intercepted (QEMU's TCG treats int3 as a software interrupt, so nested
                    // under it KVM never sees the #BP); an int3 only when all four are taken.
                    int slot = freeSlot();
                    if (slot >= 0) {
                        hardware[slot] = new long[] {address, GuestDebug.DR7_EXECUTE, 1, SOFTWARE};
                    } else if (!softwareBreakpoints.containsKey(address)) {
                        long physical = translate(address);
                        byte original = debugger.memory().read(GuestAddress.of(physical), 1)[0];
                        debugger.memory().write(GuestAddress.of(physical), new byte[] {(byte) 0xCC});
                        softwareBreakpoints.put(address, new long[] {physical, original});
                    }
                } else if (!removeSlot(address, GuestDebug.DR7_EXECUTE, SOFTWARE)) {
                    long[] b = softwareBreakpoints.remove(address);
                    if (b != null) debugger.memory().write(GuestAddress.of(b[0]), new byte[] {(byte) b[1]});
                }
                send("OK");
            }
            case 1, 2, 4 -> {
                int condition = type == 1 ? GuestDebug.DR7_EXECUTE : type == 2 ? GuestDebug.DR7_WRITE : GuestDebug.DR7_READ_WRITE;
                int length = type == 1 ? 1 : kind;
                if (insert) {
                    int slot = freeSlot();
                    if (slot < 0 || (length != 1 && length != 2 && length != 4 && length != 8) || address % length != 0) {
                        send("E01"); // no free debug register, or a length or alignment x86 cannot watch
                        return;
                    }
                    hardware[slot] = new long[] {address, condition, length, HARDWARE};
                } else {
                    removeSlot(address, condition, HARDWARE);
                }
                send("OK");
            }
            default -> send(""); // read watchpoints: x86 has none
        }
    }

    private void steppingBreakpoint(boolean insert, int type, long address, int kind) throws IOException {
        switch (type) {
            case 0, 1 -> {
                if (insert) {
                    if (!plantExitBreakpoint(address)) steppedBreakpoints.add(address);
                } else {
                    long[] b = softwareBreakpoints.remove(address);
                    if (b != null) {
                        debugger.memory().write(GuestAddress.of(b[0]), new byte[] {(byte) b[1]});
                        debugger.removeExitBreakpoint(address);
                    }
                    steppedBreakpoints.remove(address);
                }
                send("OK");
            }
            case 2, 4 -> {
                if (insert) {
                    if (kind < 1 || kind > 8) {
                        send("E01");
                        return;
                    }
                    long physical = translate(address);
                    steppedWatches.put(new long[] {address, physical, kind, type}, debugger.memory().read(GuestAddress.of(physical), kind));
                } else {
                    steppedWatches.keySet().removeIf(w -> w[0] == address && w[3] == type);
                }
                send("OK");
            }
            default -> send("");
        }
    }

    /**
     * When stepping: a breakpoint in supervisor-only code becomes a one-byte {@code out dx, al}
     * (0xEE) in place of the instruction's first byte, so the guest runs at full speed up to it
     * and the port write's exit stops it there ({@code GuestDebugger.acceptExitBreakpoint}); gdb
     * takes it out again before stepping over it, as with int3. Code on a user-accessible page
     * may run in ring 3, where {@code out} faults: such a breakpoint is found by stepping. False
     * when the address is left to stepping. The byte is written to the page the vCPU's tables map.
     */
    private boolean plantExitBreakpoint(long address) {
        if (softwareBreakpoints.containsKey(address)) return true;
        if (!(debugger.walker(vcpu()).translate(address) instanceof PageWalk.Translation t) || t.user()) return false;
        byte original = debugger.memory().read(GuestAddress.of(t.physical()), 1)[0];
        debugger.memory().write(GuestAddress.of(t.physical()), new byte[] {(byte) 0xEE});
        softwareBreakpoints.put(address, new long[] {t.physical(), original});
        debugger.addExitBreakpoint(address);
        return true;
    }

    /** When stepping: does this single-step stop (a requested step, a breakpoint reached, a watched value changed)? */
    private boolean steppedStop(GuestDebugger.Stop stop, int requested) {
        if (stop.vcpu() == requested) {
            steppedReason = "";
            return true;
        }
        if (!steppedBreakpoints.isEmpty() && steppedBreakpoints.contains(debugger.regs(stop.vcpu()).rip())) {
            steppedReason = swbreakReports ? "swbreak:;" : "";
            return true;
        }
        for (var w : steppedWatches.entrySet()) {
            long[] k = w.getKey();
            byte[] now = debugger.memory().read(GuestAddress.of(k[1]), (int) k[2]);
            if (!java.util.Arrays.equals(now, w.getValue())) {
                w.setValue(now);
                steppedReason = (k[3] == 2 ? "watch:" : "awatch:") + Long.toHexString(k[0]) + ";";
                return true;
            }
        }
        return false;
    }

    private int freeSlot() {
        for (int i = 0; i < 4; i++) if (hardware[i] == null) return i;
        return -1;
    }

    private boolean removeSlot(long address, long condition, long owner) {
        for (int i = 0; i < 4; i++) {
            if (hardware[i] != null && hardware[i][0] == address && hardware[i][1] == condition && hardware[i][3] == owner) {
                hardware[i] = null;
                return true;
            }
        }
        return false;
    }

    /**
     * Resumes every vCPU, {@code step} (0-based, or -1 for none) with single-step, and waits for
     * the next stop: a debug exit, an interrupt from gdb, or the VM's end. False when the session is over.
     */
    private boolean resume(int step) throws IOException, InterruptedException {
        long[] dr = new long[8];
        long dr7 = 0;
        for (int i = 0; i < 4; i++) {
            if (hardware[i] != null) {
                dr[i] = hardware[i][0];
                dr7 |= GuestDebug.dr7Slot(i, (int) hardware[i][1], (int) hardware[i][2]);
            }
        }
        dr[7] = dr7;
        int control = GuestDebug.ENABLE | GuestDebug.USE_SW_BP | (dr7 != 0 ? GuestDebug.USE_HW_BP : 0);
        boolean stepAll = stepping && (!steppedBreakpoints.isEmpty() || !steppedWatches.isEmpty());
        if (stepAll) {
            for (var w : steppedWatches.entrySet()) {
                w.setValue(debugger.memory().read(GuestAddress.of(w.getKey()[1]), (int) w.getKey()[2]));
            }
            debugger.filter(stop -> steppedStop(stop, step));
        } else {
            debugger.filter(null);
            steppedReason = "";
        }
        for (int v = 0; v < debugger.vcpuCount(); v++) {
            debugger.setGuestDebug(v, control | (v == step || stepAll ? GuestDebug.SINGLESTEP : 0), dr);
        }
        events.removeIf(e -> e instanceof Stopped); // stops reported while everything was parked are stale
        ask(Vm.Resume::new);
        while (true) {
            Event e = events.take();
            switch (e) {
                case Stopped s -> {
                    ask(Vm.Pause::new); // all-stop: park the other vCPUs before gdb looks
                    thread = s.stop().vcpu() + 1;
                    send(stopReply(s.stop()));
                    return true;
                }
                case FromGdb(GdbPacket.Interrupt i) -> {
                    ask(Vm.Pause::new);
                    send("T02thread:" + Integer.toHexString(thread) + ";");
                    return true;
                }
                case FromGdb(GdbPacket.Packet p) -> LOG.debug("gdb sent {} while the guest runs; ignored", p.payload());
                case FromGdb(GdbPacket.Closed c) -> {
                    ask(Vm.Pause::new);
                    detach();
                    return false;
                }
                case VmEnded v -> {
                    send("W" + GdbPacket.littleEndian(v.how().exitStatus() & 0xFF, 1));
                    return false;
                }
            }
        }
    }

    /** T05 with the vCPU, and what stopped it: a watchpoint's address, a hardware or software breakpoint. */
    private String stopReply(GuestDebugger.Stop stop) {
        String reply = "T05thread:" + Integer.toHexString(stop.vcpu() + 1) + ";";
        VmExit.Debug d = stop.exit();
        if (stepping) return reply + (d.exception() == VmExit.Debug.BP ? (swbreakReports ? "swbreak:;" : "") : steppedReason);
        if (d.exception() == VmExit.Debug.BP) return reply + (swbreakReports ? "swbreak:;" : "");
        for (int i = 0; i < 4; i++) {
            if ((d.dr6() & (1L << i)) != 0 && hardware[i] != null) {
                if (hardware[i][3] == SOFTWARE) return reply + (swbreakReports ? "swbreak:;" : "");
                if (hardware[i][1] == GuestDebug.DR7_EXECUTE) return reply + "hwbreak:;";
                return reply + (hardware[i][1] == GuestDebug.DR7_WRITE ? "watch:" : "awatch:") + Long.toHexString(hardware[i][0]) + ";";
            }
        }
        return reply;
    }

    /** Takes every breakpoint out, turns debugging off, and lets the guest run on. */
    void detach() {
        try {
            for (long[] b : softwareBreakpoints.values()) debugger.memory().write(GuestAddress.of(b[0]), new byte[] {(byte) b[1]});
            softwareBreakpoints.clear();
            debugger.filter(null);
            for (int v = 0; v < debugger.vcpuCount(); v++) debugger.setGuestDebug(v, 0, null);
            debugger.attach(null);
            ask(Vm.Resume::new);
        } catch (RuntimeException | InterruptedException e) {
            LOG.warn("gdb detach: {}", e.toString());
        }
    }

    private byte[] readVirtual(long address, int length) {
        return debugger.readVirtual(vcpu(), address, length);
    }

    private void writeVirtual(long address, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            debugger.memory().write(GuestAddress.of(translate(address + i)), new byte[] {data[i]});
        }
    }

    private long translate(long virtual) {
        return debugger.translate(vcpu(), virtual);
    }

    private int vcpu() {
        return Math.min(thread, debugger.vcpuCount()) - 1;
    }

    /** A thread id: hex, or -1 (all) and 0 (any), which select the current one. */
    private int parseThread(String id) {
        if (id.equals("-1") || id.equals("0") || id.isEmpty()) return thread;
        int t = Integer.parseInt(id, 16);
        return t >= 1 && t <= debugger.vcpuCount() ? t : -1;
    }

    private void ask(java.util.function.Function<ActorRef<StatusReply<Done>>, Vm.Command> command) throws InterruptedException {
        try {
            StatusReply<Done> r = AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, command::apply, COMMAND_TIMEOUT, system.scheduler())
                    .toCompletableFuture().get(COMMAND_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
            if (r.isError()) throw new IllegalStateException(r.getError().getMessage());
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("the VM did not answer: " + e);
        }
    }

    private void send(String payload) throws IOException {
        synchronized (out) {
            out.write(GdbPacket.frame(payload));
            out.flush();
        }
    }
}
