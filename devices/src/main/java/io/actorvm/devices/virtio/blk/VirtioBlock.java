package io.actorvm.devices.virtio.blk;

import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.virtio.AbstractVirtioDevice;
import io.actorvm.devices.virtio.NegotiatedStateCodec;
import io.actorvm.devices.virtio.QueueHandler;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.io.buffering.virtq.VirtQueueException;
import io.actorvm.mmu.GuestMemory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.LongAdder;

/**
 * virtio-blk (virtio 1.2, section 5.2) over a {@link DiskImage}: read, write, flush (a real
 * fsync), get-id, and read-only mode (writes fail with IOERR and VIRTIO_BLK_F_RO is offered).
 * A request is a 16-byte header {type, reserved, sector}, the data, and a status byte the device
 * writes last. Requests beyond the end of the disk fail with IOERR; requests whose layout is
 * wrong are protocol violations (the device then needs a reset).
 */
public final class VirtioBlock extends AbstractVirtioDevice {
    public static final NegotiatedStateCodec CODEC = new NegotiatedStateCodec("virtio-blk");
    public static final int DEVICE_ID = 2;
    public static final int QUEUE_SIZE = 256;
    static final long F_SEG_MAX = 1L << 2, F_RO = 1L << 5, F_BLK_SIZE = 1L << 6, F_FLUSH = 1L << 9;
    static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8;
    static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    static final int HEADER = 16, ID_BYTES = 20;
    /** Largest data part of one request we serve (the driver is told via seg_max and size_max-free defaults). */
    static final int MAX_REQUEST_BYTES = 4 << 20;

    /** {@code ioErrors}: requests answered IOERR (out of range, read-only, host errors); {@code hostErrors}: those the host file caused. */
    public record Metrics(long reads, long writes, long flushes, long bytesRead, long bytesWritten, long ioErrors,
                          long hostErrors, long unsupported) implements DeviceMetrics {}

    private static final System.Logger LOG = System.getLogger(VirtioBlock.class.getName());

    private final DiskImage disk;
    private final String id;
    private final LongAdder reads = new LongAdder(), writes = new LongAdder(), flushes = new LongAdder(),
            bytesRead = new LongAdder(), bytesWritten = new LongAdder(), ioErrors = new LongAdder(), hostErrors = new LongAdder(),
            unsupported = new LongAdder();

    public VirtioBlock(DiskImage disk, String id) {
        super(CODEC);
        this.disk = disk;
        this.id = id;
    }

    /** The image behind the device. */
    public DiskImage disk() {
        return disk;
    }

    /** The serial number GET_ID answers. */
    public String id() {
        return id;
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public String name() {
        return "virtio-blk";
    }

    @Override
    public long features() {
        return F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | (disk.readOnly() ? F_RO : 0);
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        // struct virtio_blk_config: capacity (u64, sectors) @0, size_max @8, seg_max @12, geometry @16, blk_size @20
        ByteBuffer config = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        config.putLong(0, disk.sectors()).putInt(12, QUEUE_SIZE - 2).putInt(20, DiskImage.SECTOR);
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            int at = offset + i;
            v = (v << 8) | (at >= 0 && at < 24 ? config.get(at) & 0xFF : 0);
        }
        return v;
    }

    @Override
    public QueueHandler handler(int index) {
        return this::process;
    }

    private int process(DescriptorChain chain, GuestMemory memory) throws IOException {
        if (chain.readableLength() < HEADER || chain.writableLength() < 1) {
            throw new VirtQueueException("virtio-blk request " + chain.head() + ": needs a 16-byte header and a status byte");
        }
        ByteBuffer header = ByteBuffer.wrap(chain.readAll(memory, HEADER)).order(ByteOrder.LITTLE_ENDIAN);
        int type = header.getInt(0);
        long sector = header.getLong(8);
        long dataIn = chain.writableLength() - 1; // device-writable data, before the status byte
        long dataOut = chain.readableLength() - HEADER;
        int status;
        int written = 0;
        switch (type) {
            case T_IN -> {
                if (dataIn % DiskImage.SECTOR != 0 || dataIn > MAX_REQUEST_BYTES || dataOut != 0) {
                    throw new VirtQueueException("virtio-blk read " + chain.head() + ": bad data length " + dataIn);
                }
                if (!inRange(sector, dataIn)) {
                    status = S_IOERR;
                } else {
                    // Straight from the file into the guest's buffers: no copy on the heap.
                    long[] at = {sector * DiskImage.SECTOR};
                    if (hostIo(() -> chain.visit(true, 0, dataIn, (address, n) -> {
                        disk.read(at[0], memory.dmaTarget(address, n).asByteBuffer());
                        at[0] += n;
                    }))) {
                        written = (int) dataIn;
                        reads.increment();
                        bytesRead.add(dataIn);
                        status = S_OK;
                    } else {
                        status = S_IOERR;
                    }
                }
            }
            case T_OUT -> {
                if (dataOut % DiskImage.SECTOR != 0 || dataOut > MAX_REQUEST_BYTES || dataIn != 0) {
                    throw new VirtQueueException("virtio-blk write " + chain.head() + ": bad data length " + dataOut);
                }
                if (disk.readOnly() || !inRange(sector, dataOut)) {
                    status = S_IOERR;
                } else {
                    long[] at = {sector * DiskImage.SECTOR};
                    if (hostIo(() -> chain.visit(false, HEADER, dataOut, (address, n) -> {
                        disk.write(at[0], memory.slice(address, n).asByteBuffer());
                        at[0] += n;
                    }))) {
                        writes.increment();
                        bytesWritten.add(dataOut);
                        status = S_OK;
                    } else {
                        status = S_IOERR;
                    }
                }
            }
            case T_FLUSH -> {
                flushes.increment();
                status = hostIo(disk::flush) ? S_OK : S_IOERR;
            }
            case T_GET_ID -> {
                byte[] idBytes = java.util.Arrays.copyOf(id.getBytes(StandardCharsets.US_ASCII), ID_BYTES);
                written = chain.write(memory, 0, java.util.Arrays.copyOf(idBytes, (int) Math.min(ID_BYTES, dataIn)));
                status = S_OK;
            }
            default -> {
                unsupported.increment();
                status = S_UNSUPP;
            }
        }
        if (status == S_IOERR) ioErrors.increment();
        // The status byte is the last writable byte of the chain.
        chain.write(memory, chain.writableLength() - 1, new byte[] {(byte) status});
        return written + 1;
    }

    private interface DiskAction {
        void run() throws IOException;
    }

    /**
     * Runs one operation on the host file. A host error (EIO, ENOSPC, a file truncated under the
     * VM) is the guest's I/O error, as on a real disk: the request completes with IOERR, counted
     * in {@code hostErrors}, and the device goes on; it is not the guest's fault, so it is no
     * reason for NEEDS_RESET. The first error and then one in every 1000 are logged.
     */
    private boolean hostIo(DiskAction action) {
        try {
            action.run();
            return true;
        } catch (IOException e) {
            hostErrors.increment();
            if (hostErrors.sum() % 1000 == 1) {
                LOG.log(System.Logger.Level.WARNING, "virtio-blk " + id + ": host I/O error on " + disk.path() + " ("
                        + hostErrors.sum() + " so far), the guest sees an I/O error: " + e.getMessage());
            }
            return false;
        }
    }

    private boolean inRange(long sector, long bytes) {
        return sector >= 0 && sector <= disk.sectors() && bytes / DiskImage.SECTOR <= disk.sectors() - sector;
    }

    @Override
    public Metrics metrics() {
        return new Metrics(reads.sum(), writes.sum(), flushes.sum(), bytesRead.sum(), bytesWritten.sum(), ioErrors.sum(), hostErrors.sum(),
                unsupported.sum());
    }
}
