package io.actorvm.images;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class InitramfsTest {

    record Read(CpioArchiveEntry entry, byte[] data) {}

    /** Reads a gzip'd newc archive back, entry by entry, in archive order. */
    static Map<String, Read> readBack(byte[] gz) throws IOException {
        Map<String, Read> out = new LinkedHashMap<>();
        try (CpioArchiveInputStream cpio = new CpioArchiveInputStream(new GZIPInputStream(new ByteArrayInputStream(gz)))) {
            CpioArchiveEntry e;
            while ((e = cpio.getNextEntry()) != null) {
                assertEquals(CpioArchiveEntry.FORMAT_NEW, e.getFormat());
                out.put(e.getName(), new Read(e, cpio.readAllBytes()));
            }
        }
        return out;
    }

    static byte[] gzipped(Initramfs fs) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        fs.writeGzipped(bytes);
        return bytes.toByteArray();
    }

    static int permissions(CpioArchiveEntry e) {
        return (int) (e.getMode() & 07777);
    }

    @Test
    void writesFilesSymlinksDevicesAndTheirParentDirectories() throws IOException {
        Initramfs fs = new Initramfs()
                .file("/bin/busybox", 0755, "ELF...".getBytes(StandardCharsets.UTF_8))
                .symlink("bin/sh", "busybox")
                .file("lib/modules/6.1.0-1/kernel/virtio.ko", 0644, new byte[]{1, 2, 3})
                .charDevice("dev/console", 0600, 5, 1)
                .directory("tmp", 01777);
        Map<String, Read> entries = readBack(gzipped(fs));

        assertEquals(List.of(".", "bin", "bin/busybox", "bin/sh", "lib", "lib/modules", "lib/modules/6.1.0-1",
                "lib/modules/6.1.0-1/kernel", "lib/modules/6.1.0-1/kernel/virtio.ko", "dev", "dev/console", "tmp"),
                new ArrayList<>(entries.keySet()));
        for (Read r : entries.values()) {
            assertEquals(0, r.entry().getUID(), r.entry().getName());
            assertEquals(0, r.entry().getGID(), r.entry().getName());
        }
        assertTrue(entries.get(".").entry().isDirectory());
        assertTrue(entries.get("lib/modules/6.1.0-1").entry().isDirectory());
        assertEquals(0755, permissions(entries.get("lib/modules/6.1.0-1").entry()));
        assertEquals(01777, permissions(entries.get("tmp").entry()));

        Read busybox = entries.get("bin/busybox");
        assertTrue(busybox.entry().isRegularFile());
        assertEquals(0755, permissions(busybox.entry()));
        assertArrayEquals("ELF...".getBytes(StandardCharsets.UTF_8), busybox.data());

        Read sh = entries.get("bin/sh");
        assertTrue(sh.entry().isSymbolicLink());
        assertEquals("busybox", new String(sh.data(), StandardCharsets.UTF_8));

        Read module = entries.get("lib/modules/6.1.0-1/kernel/virtio.ko");
        assertEquals(0644, permissions(module.entry()));
        assertArrayEquals(new byte[]{1, 2, 3}, module.data());

        Read console = entries.get("dev/console");
        assertTrue(console.entry().isCharacterDevice());
        assertEquals(0600, permissions(console.entry()));
        assertEquals(5, console.entry().getRemoteDeviceMaj());
        assertEquals(1, console.entry().getRemoteDeviceMin());
    }

    @Test
    void sameInputsGiveTheSameBytes() throws IOException {
        Initramfs a = new Initramfs().file("init", 0755, "#!/bin/sh\n".getBytes(StandardCharsets.UTF_8));
        Initramfs b = new Initramfs().file("init", 0755, "#!/bin/sh\n".getBytes(StandardCharsets.UTF_8));
        assertArrayEquals(gzipped(a), gzipped(b));
    }

    @Test
    void rejectsDuplicatesEscapesAndFilesUsedAsDirectories() {
        Initramfs fs = new Initramfs().file("bin/busybox", 0755, new byte[0]);
        assertThrows(IllegalArgumentException.class, () -> fs.file("bin/busybox", 0755, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> fs.file("bin/busybox/x", 0644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> fs.file("../etc/passwd", 0644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> fs.symlink("/", "x"));
    }

    static List<KernelModules.Module> modules() {
        return List.of(
                new KernelModules.Module("virtio_ring", "lib/modules/6.1.0-1/kernel/drivers/virtio/virtio_ring.ko", new byte[]{1}, List.of()),
                new KernelModules.Module("virtio", "lib/modules/6.1.0-1/kernel/drivers/virtio/virtio.ko", new byte[]{2}, List.of("virtio_ring")));
    }

    @Test
    void guestHasExecutableInitBusyboxShellLinkConsoleAndModules() throws IOException {
        Map<String, Read> entries = readBack(gzipped(Initramfs.forGuest("busybox-binary".getBytes(StandardCharsets.UTF_8), modules())));

        Read init = entries.get("init");
        assertTrue(init.entry().isRegularFile(), "/init is present");
        assertEquals(0755, permissions(init.entry()), "/init is executable");
        String script = new String(init.data(), StandardCharsets.UTF_8);
        assertTrue(script.startsWith("#!/bin/sh\n"));
        assertTrue(script.contains("echo \"" + Initramfs.INIT_MARKER + "\"\n"));
        assertTrue(script.indexOf("/drivers/virtio/virtio_ring.ko") < script.indexOf("/drivers/virtio/virtio.ko"), "load order kept");

        assertEquals(0755, permissions(entries.get("bin/busybox").entry()));
        assertEquals("busybox", new String(entries.get("bin/sh").data(), StandardCharsets.UTF_8));
        assertTrue(entries.get("dev/console").entry().isCharacterDevice());
        for (String dir : List.of("bin", "sbin", "dev", "proc", "sys", "tmp", "lib/modules/6.1.0-1")) {
            assertTrue(entries.get(dir).entry().isDirectory(), dir);
        }
        assertArrayEquals(new byte[]{2}, entries.get("lib/modules/6.1.0-1/kernel/drivers/virtio/virtio.ko").data());
    }

    @Test
    void initScriptOrdersItsStepsAndIsValidShell(@TempDir Path dir) throws Exception {
        String script = Initramfs.initScript(List.of("/lib/modules/x/a.ko", "/lib/modules/x/b.ko"));
        List<String> steps = List.of("mount -t proc", "mount -t devtmpfs", "--install -s", Initramfs.INIT_MARKER,
                "insmod", "\"$@\"", "command exit status", "powering off", "sync", "reboot -f", "poweroff -f");
        int last = -1;
        for (String step : steps) {
            int at = script.indexOf(step, last + 1);
            assertTrue(at > last, "step '" + step + "' comes after the previous one in:\n" + script);
            last = at;
        }
        // Syntax-check it with the host's shell where there is one.
        Path sh = Path.of("/bin/sh");
        assumeTrue(Files.isExecutable(sh), "no /bin/sh for the syntax check");
        Path file = Files.writeString(dir.resolve("init"), script);
        Process p = new ProcessBuilder(sh.toString(), "-n", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }
}
