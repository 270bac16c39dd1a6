package io.actorvm.devices.record;

import com.google.protobuf.ByteString;
import io.actorvm.devices.EntropySource;
import io.actorvm.devices.InterruptLine;
import io.actorvm.devices.VmControl;
import io.actorvm.devices.proto.DiskRead;
import io.actorvm.devices.proto.DiskWrite;
import io.actorvm.devices.proto.Frame;
import io.actorvm.devices.proto.Item;
import io.actorvm.devices.serial.SerialOutput;
import io.actorvm.devices.virtio.VirtioHost;
import io.actorvm.devices.virtio.blk.DiskImage;
import io.actorvm.devices.virtio.net.NetBackend;
import io.actorvm.io.buffering.virtq.SplitQueue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The host sources and sinks of the device models, wrapped so that a {@link HostCall} sees what
 * passes: recording, each wrapper calls the real one and adds an item to the current call;
 * replaying (the real one is null), inputs come from the recorded call and outputs are only
 * gathered. Outside any call a wrapper is a plain pass-through.
 */
public final class Recorded {
    private Recorded() {}

    private static Item item(Item.Builder b) {
        return b.build();
    }

    /** The wall clock (the CMOS RTC's). */
    public static Clock clock(Clock real) {
        return new RecordedClock(real);
    }

    private static final class RecordedClock extends Clock {
        private final Clock real;

        RecordedClock(Clock real) {
            this.real = real;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            HostCall call = HostCall.current();
            if (call != null && call.replaying()) return Instant.ofEpochSecond(0, call.takeInput(Item.ItemCase.CLOCK_NANOS).getClockNanos());
            Instant now = replayOutside(real, "the clock").instant();
            if (call != null) call.add(item(Item.newBuilder().setClockNanos(now.getEpochSecond() * 1_000_000_000L + now.getNano())));
            return now;
        }
    }

    /** Random bytes (virtio-rng's). */
    public static EntropySource entropy(EntropySource real) {
        return into -> {
            HostCall call = HostCall.current();
            if (call != null && call.replaying()) {
                ByteString b = call.takeInput(Item.ItemCase.ENTROPY).getEntropy();
                if (b.size() != into.length) {
                    throw new DivergenceException("the model asked for " + into.length + " random bytes; the recording gave " + b.size());
                }
                b.copyTo(into, 0);
                return;
            }
            replayOutside(real, "entropy").fill(into);
            if (call != null) call.add(item(Item.newBuilder().setEntropy(ByteString.copyFrom(into))));
        };
    }

    /** The UART's transmitted bytes. */
    public static SerialOutput console(SerialOutput real) {
        return new SerialOutput() {
            @Override
            public void transmit(byte b) {
                HostCall call = HostCall.current();
                if (call != null) call.addConsoleByte(b);
                if (real != null && (call == null || !call.replaying())) real.transmit(b);
            }

            @Override
            public void flush() {
                HostCall call = HostCall.current();
                if (real != null && (call == null || !call.replaying())) real.flush();
            }
        };
    }

    /** A level-triggered interrupt line (the UART's IRQ 4). */
    public static InterruptLine irqLine(InterruptLine real) {
        return level -> output(Item.newBuilder().setIrqLevel(level), real == null ? null : () -> real.set(level));
    }

    /** An edge-triggered interrupt (a virtio device's irqfd). */
    public static Runnable irqEdge(Runnable real) {
        return () -> output(Item.newBuilder().setIrqEdge(true), real);
    }

    /** Requests a device makes of its VM. */
    public static VmControl control(VmControl real) {
        return new VmControl() {
            @Override
            public void requestReset(String reason) {
                output(Item.newBuilder().setControl("reset: " + reason), real == null ? null : () -> real.requestReset(reason));
            }

            @Override
            public void requestPowerOff() {
                output(Item.newBuilder().setControl("power off"), real == null ? null : real::requestPowerOff);
            }

            @Override
            public void requestExit(int status) {
                output(Item.newBuilder().setControl("exit " + status), real == null ? null : () -> real.requestExit(status));
            }
        };
    }

    /** What a virtio transport asks of its rings. */
    public static VirtioHost virtioHost(VirtioHost real) {
        return new VirtioHost() {
            @Override
            public void activate(List<SplitQueue.State> queues) {
                long ready = queues.stream().filter(Objects::nonNull).count();
                output(Item.newBuilder().setVirtioHost("activate " + ready + " of " + queues.size() + " queues"),
                        real == null ? null : () -> real.activate(queues));
            }

            @Override
            public void deactivate() {
                output(Item.newBuilder().setVirtioHost("deactivate"), real == null ? null : real::deactivate);
            }

            @Override
            public void notifyQueue(int index) {
                output(Item.newBuilder().setVirtioHost("notify " + index), real == null ? null : () -> real.notifyQueue(index));
            }
        };
    }

    /** A disk image: reads are recorded with their data, writes with a checksum. */
    public static DiskImage disk(DiskImage real) {
        return new RecordedDisk(real, real.path(), real.readOnly(), real.size());
    }

    /** The disk of a replay: there is no image, the recording holds every read. */
    public static DiskImage replayDisk(Path path, boolean readOnly, long size) {
        return new RecordedDisk(null, path, readOnly, size);
    }

    private record RecordedDisk(DiskImage real, Path path, boolean readOnly, long size) implements DiskImage {
        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            HostCall call = HostCall.current();
            if (call != null && call.replaying()) {
                DiskRead r = call.takeInput(Item.ItemCase.DISK_READ).getDiskRead();
                if (r.getOffset() != offset || (r.getError().isEmpty() && r.getData().size() != dst.remaining())) {
                    throw new DivergenceException("the model read " + dst.remaining() + " bytes of disk at " + offset
                            + "; the recording read " + r.getData().size() + " at " + r.getOffset());
                }
                if (!r.getError().isEmpty()) throw new IOException(r.getError());
                r.getData().copyTo(dst);
                return;
            }
            ByteBuffer view = dst.duplicate();
            try {
                replayOutside(real, "the disk").read(offset, dst);
            } catch (IOException e) {
                if (call != null) call.add(item(Item.newBuilder().setDiskRead(DiskRead.newBuilder().setOffset(offset).setError(message(e)))));
                throw e;
            }
            if (call != null) {
                view.limit(dst.position());
                call.add(item(Item.newBuilder().setDiskRead(DiskRead.newBuilder().setOffset(offset).setData(ByteString.copyFrom(view)))));
            }
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            HostCall call = HostCall.current();
            int length = src.remaining(), crc = Items.crc(src);
            if (call != null && call.replaying()) {
                DiskWrite w = call.takeInput(Item.ItemCase.DISK_WRITE).getDiskWrite();
                if (w.getOffset() != offset || w.getLength() != length || w.getCrc() != crc) {
                    throw new DivergenceException("the model wrote " + length + " bytes (crc " + Integer.toHexString(crc) + ") at " + offset
                            + "; the recording wrote " + w.getLength() + " (crc " + Integer.toHexString(w.getCrc()) + ") at " + w.getOffset());
                }
                if (!w.getError().isEmpty()) throw new IOException(w.getError());
                src.position(src.limit());
                return;
            }
            DiskWrite.Builder w = DiskWrite.newBuilder().setOffset(offset).setLength(length).setCrc(crc);
            try {
                replayOutside(real, "the disk").write(offset, src);
            } catch (IOException e) {
                w.setError(message(e));
                throw e;
            } finally {
                if (call != null) call.add(item(Item.newBuilder().setDiskWrite(w)));
            }
        }

        @Override
        public void flush() throws IOException {
            HostCall call = HostCall.current();
            if (call != null && call.replaying()) {
                String error = call.takeInput(Item.ItemCase.DISK_FLUSH).getDiskFlush();
                if (!error.isEmpty()) throw new IOException(error);
                return;
            }
            String error = "";
            try {
                replayOutside(real, "the disk").flush();
            } catch (IOException e) {
                error = message(e);
                throw e;
            } finally {
                if (call != null) call.add(item(Item.newBuilder().setDiskFlush(error)));
            }
        }

        @Override
        public void close() throws IOException {
            if (real != null) real.close();
        }
    }

    /** A network backend: sent frames are recorded by length and checksum. */
    public static NetBackend net(NetBackend real) {
        return new NetBackend() {
            @Override
            public void start(Consumer<byte[]> receiver) {
                if (real != null) real.start(receiver);
            }

            @Override
            public void send(byte[] frame) throws IOException {
                HostCall call = HostCall.current();
                int crc = Items.crc(frame);
                if (call != null && call.replaying()) {
                    Frame f = call.takeInput(Item.ItemCase.NET_SEND).getNetSend();
                    if (f.getLength() != frame.length || f.getCrc() != crc) {
                        throw new DivergenceException("the model sent a frame of " + frame.length + " bytes (crc " + Integer.toHexString(crc)
                                + "); the recording sent " + f.getLength() + " (crc " + Integer.toHexString(f.getCrc()) + ")");
                    }
                    if (!f.getError().isEmpty()) throw new IOException(f.getError());
                    return;
                }
                Frame.Builder f = Frame.newBuilder().setLength(frame.length).setCrc(crc);
                try {
                    replayOutside(real, "the network").send(frame);
                } catch (IOException e) {
                    f.setError(message(e));
                    throw e;
                } finally {
                    if (call != null) call.add(item(Item.newBuilder().setNetSend(f)));
                }
            }

            @Override
            public void close() {
                if (real != null) real.close();
            }
        };
    }

    /** An output: gathered in the current call, and passed on unless replaying. */
    private static void output(Item.Builder item, Runnable real) {
        HostCall call = HostCall.current();
        if (call != null) call.add(item.build());
        if (real != null && (call == null || !call.replaying())) real.run();
    }

    /** The real source; a replay has none, and a model that reaches for it outside a call has diverged. */
    private static <T> T replayOutside(T real, String what) {
        if (real == null) throw new DivergenceException("the model used " + what + " outside any recorded call");
        return real;
    }

    private static String message(IOException e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
