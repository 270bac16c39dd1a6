package io.actorvm.devices.record;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.devices.proto.DeviceLogHeader;
import io.actorvm.devices.proto.DeviceStep;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads a device recording step by step (it may be far larger than memory). A damaged or foreign
 * file is a {@link DeviceLogException} naming the file and what is wrong, never an
 * {@code OutOfMemoryError}: no message may claim more than {@link #MAX_MESSAGE} bytes.
 */
public final class DeviceLogReader implements AutoCloseable {
    static final byte[] MAGIC = "AVMDLOG1\n".getBytes(StandardCharsets.US_ASCII);
    /** A step carries at most one request's bytes (virtio-blk's 4 MiB, a chain's readable part); far below this. */
    public static final int MAX_MESSAGE = 64 << 20;

    private final Path file;
    private final InputStream in;
    private final DeviceLogHeader header;
    private long steps;

    private DeviceLogReader(Path file, InputStream in) throws IOException {
        this.file = file;
        this.in = in;
        byte[] magic = in.readNBytes(MAGIC.length);
        if (!Arrays.equals(magic, MAGIC)) throw new DeviceLogException(file + " is not an actorvm device recording");
        byte[] h = message();
        if (h == null) throw new DeviceLogException(file + ": the recording ends before its header");
        try {
            header = DeviceLogHeader.parseFrom(h);
        } catch (InvalidProtocolBufferException e) {
            throw new DeviceLogException(file + ": the header does not parse");
        }
    }

    public static DeviceLogReader open(Path file) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 20);
        try {
            return new DeviceLogReader(file, in);
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    public DeviceLogHeader header() {
        return header;
    }

    /** The next step, or null at the end of the recording. */
    public DeviceStep next() throws IOException {
        byte[] m = message();
        if (m == null) return null;
        try {
            DeviceStep step = DeviceStep.parseFrom(m);
            steps++;
            return step;
        } catch (InvalidProtocolBufferException e) {
            throw new DeviceLogException(file + ": step " + (steps + 1) + " does not parse");
        }
    }

    /** One length-delimited message, or null at a clean end of file. */
    private byte[] message() throws IOException {
        int first = in.read();
        if (first < 0) return null;
        long length;
        try {
            length = CodedInputStream.readRawVarint32(first, in) & 0xFFFF_FFFFL;
        } catch (InvalidProtocolBufferException e) {
            throw new DeviceLogException(file + ": the recording is cut off after step " + steps);
        }
        if (length > MAX_MESSAGE) {
            throw new DeviceLogException(file + ": step " + (steps + 1) + " claims " + length + " bytes (at most " + MAX_MESSAGE + ")");
        }
        byte[] m = in.readNBytes((int) length);
        if (m.length != length) throw new DeviceLogException(file + ": the recording is cut off in step " + (steps + 1));
        return m;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
