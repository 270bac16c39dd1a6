package io.actorvm.images;

import org.apache.commons.compress.compressors.xz.XZCompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelModulesTest {
    static final String RELEASE = "6.1.0-99-cloud-amd64";

    /** A fake module: some bytes, then a .modinfo-like run of NUL-separated key=value strings. */
    static byte[] ko(String name, String depends) {
        return ("\u007fELF...\0license=GPL\0depends=" + depends + "\0name=" + name + "\0").getBytes(StandardCharsets.US_ASCII);
    }

    static void put(Path root, String rel, byte[] contents, boolean xz) throws IOException {
        Path f = root.resolve("lib/modules/" + RELEASE + "/kernel/" + rel + (xz ? ".xz" : ""));
        Files.createDirectories(f.getParent());
        if (!xz) {
            Files.write(f, contents);
            return;
        }
        try (OutputStream o = new XZCompressorOutputStream(Files.newOutputStream(f))) {
            o.write(contents);
        }
    }

    @Test
    void readsDependsFromModinfo() {
        assertEquals(List.of("virtio", "virtio_ring"), KernelModules.depends(ko("virtio_blk", "virtio,virtio_ring")));
        assertEquals(List.of(), KernelModules.depends(ko("virtio_ring", "")));
        assertEquals(List.of(), KernelModules.depends(new byte[]{1, 2, 3}));
    }

    @Test
    void keepsWantedOrderAndPullsInDependenciesFirst(@TempDir Path root) throws IOException {
        put(root, "drivers/virtio/virtio_ring.ko", ko("virtio_ring", ""), false);
        put(root, "drivers/virtio/virtio.ko", ko("virtio", "virtio_ring"), false);
        put(root, "drivers/char/hw_random/rng-core.ko", ko("rng_core", ""), false);
        put(root, "drivers/char/hw_random/virtio-rng.ko", ko("virtio_rng", "virtio,rng-core,virtio_ring"), true);
        put(root, "drivers/net/virtio_net.ko", ko("virtio_net", "virtio_ring,virtio,net_failover"), false);

        List<String> warnings = new ArrayList<>();
        List<KernelModules.Module> modules = KernelModules.select(root, RELEASE,
                List.of("virtio-rng", "virtio_ring", "virtio", "virtio_balloon", "virtio_net"), warnings::add);

        assertEquals(List.of("virtio_ring", "virtio", "rng-core", "virtio-rng", "virtio_net"),
                modules.stream().map(KernelModules.Module::name).toList());
        KernelModules.Module rng = modules.get(3);
        assertEquals("lib/modules/" + RELEASE + "/kernel/drivers/char/hw_random/virtio-rng.ko", rng.path(), ".xz dropped from the name");
        assertArrayEquals(ko("virtio_rng", "virtio,rng-core,virtio_ring"), rng.contents(), "decompressed");
        assertEquals(2, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("virtio_balloon"), warnings.toString());
        assertTrue(warnings.get(1).contains("net_failover"), warnings.toString());
    }

    @Test
    void noModuleTreeIsAnError(@TempDir Path root) {
        var e = assertThrows(GuestBuildException.class, () -> KernelModules.select(root, RELEASE, KernelModules.VIRTIO, w -> {}));
        assertTrue(e.getMessage().contains("lib/modules/" + RELEASE + "/kernel"), e.getMessage());
    }
}
