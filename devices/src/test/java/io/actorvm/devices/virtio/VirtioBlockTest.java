package io.actorvm.devices.virtio;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.devices.virtio.blk.DiskImage;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.io.buffering.virtq.VirtQueueException;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class VirtioBlockTest {
    final GuestMemory memory = GuestMemory.allocate(new AddressMap(4L << 20));
    @TempDir
    Path dir;

    @AfterEach
    void close() {
        memory.close();
    }

    Path image(int bytes) throws IOException {
        byte[] data = new byte[bytes];
        for (int i = 0; i < bytes; i++) data[i] = (byte) (i * 7 + i / 512);
        return Files.write(dir.resolve("disk.img"), data);
    }

    /** A request in guest memory: header at 0x10000, data at 0x20000, status at 0x30000. */
    DescriptorChain request(int type, long sector, int dataLength, boolean dataWritable) {
        ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0, type).putLong(8, sector);
        memory.write(GuestAddress.of(0x10000), h.array());
        memory.write(GuestAddress.of(0x30000), new byte[] {(byte) 0xEE});
        var segments = new java.util.ArrayList<DescriptorChain.Segment>();
        segments.add(new DescriptorChain.Segment(GuestAddress.of(0x10000), 16, false));
        if (dataLength > 0) segments.add(new DescriptorChain.Segment(GuestAddress.of(0x20000), dataLength, dataWritable));
        segments.add(new DescriptorChain.Segment(GuestAddress.of(0x30000), 1, true));
        return new DescriptorChain(3, List.copyOf(segments));
    }

    int status() {
        return memory.read(GuestAddress.of(0x30000), 1)[0];
    }

    @Test
    void readsWritesFlushesAndReportsCapacity() throws IOException {
        Path img = image(64 * 1024);
        try (DiskImage disk = DiskImage.open(img, false)) {
            VirtioBlock blk = new VirtioBlock(disk, "disk0");
            assertEquals(128, blk.readConfig(0, 8));
            QueueHandler q = blk.handler(0);

            assertEquals(1024 + 1, q.process(request(0, 2, 1024, true), memory));
            assertEquals(0, status());
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(img), 1024, 2048), memory.read(GuestAddress.of(0x20000), 1024));

            byte[] pattern = new byte[512];
            Arrays.fill(pattern, (byte) 0xA5);
            memory.write(GuestAddress.of(0x20000), pattern);
            assertEquals(1, q.process(request(1, 127, 512, false), memory));
            assertEquals(0, status());
            assertEquals(1, q.process(request(4, 0, 0, false), memory));
            assertEquals(0, status());
            assertArrayEquals(pattern, Arrays.copyOfRange(Files.readAllBytes(img), 127 * 512, 128 * 512));

            q.process(request(0, 127, 1024, true), memory); // runs past the end
            assertEquals(1, status(), "IOERR");
            q.process(request(99, 0, 0, false), memory);
            assertEquals(2, status(), "UNSUPP");
            q.process(request(8, 0, 20, true), memory);
            assertEquals("disk0", new String(memory.read(GuestAddress.of(0x20000), 5)));
            assertEquals(0, blk.readConfig(0x1000, 4));
        }
    }

    @Test
    void dataScatteredOverSegmentsMovesInChainOrder() throws IOException {
        Path img = image(64 * 1024);
        byte[] file = Files.readAllBytes(img);
        try (DiskImage disk = DiskImage.open(img, false)) {
            QueueHandler q = new VirtioBlock(disk, "disk0").handler(0);
            // A read of 1536 bytes into three pieces, the last one sharing its descriptor with the status byte.
            memory.write(GuestAddress.of(0x10000), ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0).putLong(8, 4).array());
            DescriptorChain read = new DescriptorChain(1, List.of(
                    new DescriptorChain.Segment(GuestAddress.of(0x10000), 16, false),
                    new DescriptorChain.Segment(GuestAddress.of(0x21000), 100, true),
                    new DescriptorChain.Segment(GuestAddress.of(0x22000), 1000, true),
                    new DescriptorChain.Segment(GuestAddress.of(0x23000), 437, true)));
            assertEquals(1536 + 1, q.process(read, memory));
            assertEquals(0, memory.read(GuestAddress.of(0x23000 + 436), 1)[0]);
            byte[] got = new byte[1536];
            System.arraycopy(memory.read(GuestAddress.of(0x21000), 100), 0, got, 0, 100);
            System.arraycopy(memory.read(GuestAddress.of(0x22000), 1000), 0, got, 100, 1000);
            System.arraycopy(memory.read(GuestAddress.of(0x23000), 436), 0, got, 1100, 436);
            assertArrayEquals(Arrays.copyOfRange(file, 4 * 512, 4 * 512 + 1536), got);

            // A write whose header and first data bytes share a descriptor, the rest in a second one.
            byte[] data = new byte[1024];
            for (int i = 0; i < data.length; i++) data[i] = (byte) (255 - i);
            byte[] first = new byte[16 + 300];
            ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1).putLong(8, 10);
            System.arraycopy(data, 0, first, 16, 300);
            memory.write(GuestAddress.of(0x40000), first);
            memory.write(GuestAddress.of(0x41000), Arrays.copyOfRange(data, 300, 1024));
            memory.write(GuestAddress.of(0x30000), new byte[] {(byte) 0xEE});
            DescriptorChain write = new DescriptorChain(2, List.of(
                    new DescriptorChain.Segment(GuestAddress.of(0x40000), 316, false),
                    new DescriptorChain.Segment(GuestAddress.of(0x41000), 724, false),
                    new DescriptorChain.Segment(GuestAddress.of(0x30000), 1, true)));
            assertEquals(1, q.process(write, memory));
            assertEquals(0, status());
            assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(img), 10 * 512, 10 * 512 + 1024));
        }
    }

    @Test
    void readOnlyDisksRefuseWritesWithIoErr() throws IOException {
        Path img = image(8192);
        byte[] before = Files.readAllBytes(img);
        try (DiskImage disk = DiskImage.open(img, true)) {
            VirtioBlock blk = new VirtioBlock(disk, "ro");
            assertEquals(1L << 5, blk.features() & (1L << 5));
            blk.handler(0).process(request(1, 0, 512, false), memory);
            assertEquals(1, status());
        }
        assertArrayEquals(before, Files.readAllBytes(img));
    }

    /** The host file shrinks under the VM (a real host error, not the guest's doing): the guest sees IOERR, the device goes on. */
    @Test
    void aHostErrorIsTheGuestsIoErrorNotADeviceFailure() throws IOException {
        Path img = image(64 * 1024);
        try (DiskImage disk = DiskImage.open(img, false)) {
            VirtioBlock blk = new VirtioBlock(disk, "shrunk");
            QueueHandler q = blk.handler(0);
            try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(4096);
            }
            assertEquals(1, q.process(request(0, 16, 1024, true), memory), "only the status byte is written");
            assertEquals(1, status(), "IOERR");
            assertEquals(1, blk.metrics().hostErrors());
            assertEquals(1, blk.metrics().ioErrors());
            assertEquals(1024 + 1, q.process(request(0, 2, 1024, true), memory), "what the host still has reads fine");
            assertEquals(0, status());
        }
    }

    @Test
    void malformedRequestsAreProtocolViolations() throws IOException {
        try (DiskImage disk = DiskImage.open(image(8192), false)) {
            QueueHandler q = new VirtioBlock(disk, "x").handler(0);
            assertThrows(VirtQueueException.class, () -> q.process(new DescriptorChain(0,
                    List.of(new DescriptorChain.Segment(GuestAddress.of(0x10000), 8, false), new DescriptorChain.Segment(GuestAddress.of(0x30000), 1, true))), memory));
            assertThrows(VirtQueueException.class, () -> q.process(request(0, 0, 100, true), memory)); // not whole sectors
            assertThrows(VirtQueueException.class, () -> q.process(new DescriptorChain(0,
                    List.of(new DescriptorChain.Segment(GuestAddress.of(0x10000), 16, false))), memory)); // no status byte
        }
    }

    @Test
    void imagesThatAreNotWholeSectorsOrMissingAreOneLineErrors() throws IOException {
        Path odd = Files.write(dir.resolve("odd.img"), new byte[1000]);
        assertEquals("disk image " + odd + " is 1000 bytes, not a whole number of 512-byte sectors",
                assertThrows(IOException.class, () -> DiskImage.open(odd, false)).getMessage());
        assertThrows(IOException.class, () -> DiskImage.open(dir.resolve("none.img"), false));
    }
}
