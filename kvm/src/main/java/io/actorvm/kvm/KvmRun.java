package io.actorvm.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The shared {@code kvm_run} page of one vCPU: exit decoding and read completion. Pure over a
 * {@link MemorySegment}, so it can be tested on a plain buffer shaped like the page.
 */
public final class KvmRun {
    static final int EXIT_UNKNOWN = 0, EXIT_EXCEPTION = 1, EXIT_IO = 2, EXIT_DEBUG = 4, EXIT_HLT = 5,
            EXIT_MMIO = 6, EXIT_SHUTDOWN = 8, EXIT_FAIL_ENTRY = 9, EXIT_INTR = 10, EXIT_INTERNAL_ERROR = 17,
            EXIT_SYSTEM_EVENT = 24;
    static final int IO_IN = 0, IO_OUT = 1;

    static final long IMMEDIATE_EXIT = 1, EXIT_REASON = 8, EXIT_UNION = 32;
    /** Largest data a single PIO exit can carry that we accept (rep ins/outs are bounded by the page). */
    private static final int MAX_PIO_BYTES = 4096;

    private final MemorySegment page;
    /**
     * Single-item port and MMIO exits decoded lately, by a hash of their fields: a guest repeats the
     * same few (a status register polled, a doorbell rung, a scratch register written), and an
     * exit that equals one of them is that same immutable object again, so the hot exits allocate
     * nothing. Owned by the vCPU's thread, as the page is.
     */
    private final VmExit[] recent = new VmExit[RECENT];
    private static final int RECENT = 256;

    public KvmRun(MemorySegment page) {
        this.page = page;
    }

    public MemorySegment segment() {
        return page;
    }

    /**
     * Sets {@code immediate_exit}: the next KVM_RUN returns EINTR at once. Plain byte store; the
     * kick that follows (a signal) or the vCPU thread's own next ioctl orders it for the kernel.
     */
    public void setImmediateExit(boolean value) {
        page.set(JAVA_BYTE, IMMEDIATE_EXIT, (byte) (value ? 1 : 0));
    }

    public int exitReason() {
        return page.get(JAVA_INT, EXIT_REASON);
    }

    /** Decodes the exit KVM_RUN just reported. */
    public VmExit decode() {
        int reason = exitReason();
        long u = EXIT_UNION;
        return switch (reason) {
            case EXIT_IO -> {
                int direction = page.get(JAVA_BYTE, u);
                int size = page.get(JAVA_BYTE, u + 1);
                int port = Short.toUnsignedInt(page.get(JAVA_SHORT, u + 2));
                int count = page.get(JAVA_INT, u + 4);
                long dataOffset = page.get(JAVA_LONG, u + 8);
                long bytes = (long) size * count;
                if ((size != 1 && size != 2 && size != 4) || count < 1 || bytes > MAX_PIO_BYTES
                        || dataOffset < 0 || dataOffset > page.byteSize() - bytes || (direction != IO_IN && direction != IO_OUT)) {
                    yield new VmExit.Unhandled(reason);
                }
                if (direction == IO_OUT) {
                    if (count == 1) yield portOut(port, size, littleEndian(dataOffset, size));
                    byte[] data = page.asSlice(dataOffset, bytes).toArray(JAVA_BYTE);
                    yield new VmExit.PortOut(port, size, count, data);
                }
                int slot = slot(port, size * 8191L + count, 1);
                if (recent[slot] instanceof VmExit.PortIn in && in.port() == port && in.size() == size && in.count() == count) yield in;
                VmExit.PortIn in = new VmExit.PortIn(port, size, count);
                recent[slot] = in;
                yield in;
            }
            case EXIT_MMIO -> {
                long address = page.get(JAVA_LONG, u);
                int len = page.get(JAVA_INT, u + 16);
                boolean write = page.get(JAVA_BYTE, u + 20) != 0;
                if (len < 1 || len > 8) yield new VmExit.Unhandled(reason);
                if (write) yield mmioWrite(address, len, littleEndian(u + 8, len));
                int slot = slot(address, len, 2);
                if (recent[slot] instanceof VmExit.MmioRead r && r.address() == address && r.length() == len) yield r;
                VmExit.MmioRead r = new VmExit.MmioRead(address, len);
                recent[slot] = r;
                yield r;
            }
            case EXIT_HLT -> new VmExit.Halt();
            case EXIT_SHUTDOWN -> new VmExit.Shutdown();
            case EXIT_INTR -> new VmExit.Interrupted();
            case EXIT_DEBUG -> new VmExit.Debug(page.get(JAVA_INT, u), page.get(JAVA_LONG, u + 8), page.get(JAVA_LONG, u + 16),
                    page.get(JAVA_LONG, u + 24));
            case EXIT_FAIL_ENTRY -> new VmExit.FailEntry(page.get(JAVA_LONG, u), page.get(JAVA_INT, u + 8));
            case EXIT_SYSTEM_EVENT -> new VmExit.SystemEvent(page.get(JAVA_INT, u), data(u + 8, u + 4));
            case EXIT_INTERNAL_ERROR -> new VmExit.InternalError(page.get(JAVA_INT, u), data(u + 8, u + 4));
            default -> new VmExit.Unhandled(reason);
        };
    }

    private VmExit.PortOut portOut(int port, int size, long value) {
        int slot = slot(port, size * 31L + value, 3);
        if (recent[slot] instanceof VmExit.PortOut o && o.port() == port && o.size() == size && o.count() == 1 && o.value(0) == value) {
            return o;
        }
        VmExit.PortOut o = new VmExit.PortOut(port, size, 1, toBytes(value, size));
        recent[slot] = o;
        return o;
    }

    private VmExit.MmioWrite mmioWrite(long address, int len, long value) {
        int slot = slot(address, len * 31L + value, 4);
        if (recent[slot] instanceof VmExit.MmioWrite w && w.address() == address && w.data().length == len && w.value() == value) {
            return w;
        }
        VmExit.MmioWrite w = new VmExit.MmioWrite(address, toBytes(value, len));
        recent[slot] = w;
        return w;
    }

    /** Where an exit of this kind and these fields is kept in {@link #recent}. */
    private static int slot(long address, long rest, int kind) {
        long h = (address * 0x9E3779B97F4A7C15L) ^ (rest * 0xC2B2AE3D27D4EB4FL) ^ kind;
        return (int) (h ^ (h >>> 29) ^ (h >>> 47)) & (RECENT - 1);
    }

    /** {@code n} bytes of the page at {@code at}, little-endian, zero-extended. */
    private long littleEndian(long at, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) v |= (page.get(JAVA_BYTE, at + i) & 0xFFL) << (8 * i);
        return v;
    }

    private static byte[] toBytes(long value, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (value >>> (8 * i));
        return b;
    }

    /** The {@code ndata}-counted u64 array of system_event and internal, clamped to its 16 slots. */
    private long[] data(long at, long ndataAt) {
        int n = (int) Math.min(Integer.toUnsignedLong(page.get(JAVA_INT, ndataAt)), 16);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) out[i] = page.get(JAVA_LONG, at + i * 8L);
        return out;
    }

    /** Supplies the data of a port read before the next KVM_RUN; {@code data} is size*count bytes. */
    public void completePortIn(byte[] data) {
        long u = EXIT_UNION;
        long dataOffset = page.get(JAVA_LONG, u + 8);
        long bytes = (long) page.get(JAVA_BYTE, u + 1) * page.get(JAVA_INT, u + 4);
        if (data.length != bytes) throw new IllegalArgumentException("port read wants " + bytes + " bytes, got " + data.length);
        copyIn(data, dataOffset, (int) bytes);
    }

    /** Supplies the data of an MMIO read before the next KVM_RUN. */
    public void completeMmioRead(byte[] data) {
        int len = page.get(JAVA_INT, EXIT_UNION + 16);
        if (data.length != len) throw new IllegalArgumentException("MMIO read wants " + len + " bytes, got " + data.length);
        copyIn(data, EXIT_UNION + 8, len);
    }

    /** Byte by byte for the one-item reads (no segment wrapped around {@code data}), in bulk for a {@code rep ins}. */
    private void copyIn(byte[] data, long at, int n) {
        if (n > 8) {
            MemorySegment.copy(MemorySegment.ofArray(data), 0, page, at, n);
            return;
        }
        for (int i = 0; i < n; i++) page.set(JAVA_BYTE, at + i, data[i]);
    }
}
