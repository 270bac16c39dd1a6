package io.actorvm.images;

import io.actorvm.images.DebianPackages.Package;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The build orchestration and cache, with apt and dpkg replaced by a fake that makes tiny packages. */
class GuestImageTest {
    static final String RELEASE = "6.1.0-99-cloud-amd64";
    static final byte[] ELF = KernelPayloadTest.elf(0x1000ab0);

    /** A fake apt: one metapackage, its kernel image and busybox-static; dpkg-deb -x writes small trees. */
    static final class FakeApt implements DebianPackages.Runner {
        int downloads, policyCalls;

        @Override
        public DebianPackages.Result run(Path dir, List<String> c) throws IOException {
            String line = String.join(" ", c);
            if (line.startsWith("apt-cache policy ")) {
                policyCalls++;
                StringBuilder out = new StringBuilder();
                for (String name : c.subList(2, c.size())) {
                    String version = name.startsWith("busybox") ? "1:1.35.0-4" : "6.1.999-1";
                    out.append(name).append(":\n  Installed: (none)\n  Candidate: ").append(version).append("\n  Version table:\n");
                }
                return ok(out.toString());
            }
            if (line.equals("apt-cache show --no-all-versions linux-image-cloud-amd64=6.1.999-1")) {
                return ok("Package: linux-image-cloud-amd64\nDepends: linux-image-" + RELEASE + " (= 6.1.999-1)\n");
            }
            if (line.startsWith("apt-get download")) {
                downloads++;
                for (String spec : c.subList(3, c.size())) {
                    String[] nv = spec.split("=", 2);
                    Files.writeString(dir.resolve(nv[0] + "_" + nv[1].replace(":", "%3a") + "_amd64.deb"), "deb");
                }
                return ok("");
            }
            if (line.startsWith("dpkg-deb -x ")) {
                Path into = Path.of(c.get(3));
                if (Path.of(c.get(2)).getFileName().toString().startsWith("busybox")) {
                    write(into.resolve("bin/busybox"), "busybox".getBytes(StandardCharsets.UTF_8));
                } else {
                    byte[] payload = KernelPayloadTest.withSizeAppended(KernelPayloadTest.lz4Legacy(ELF), ELF.length);
                    write(into.resolve("boot/vmlinuz-" + RELEASE), KernelPayloadTest.bzImage(payload));
                    write(into.resolve("lib/modules/" + RELEASE + "/kernel/drivers/virtio/virtio_ring.ko"),
                            KernelModulesTest.ko("virtio_ring", ""));
                }
                return ok("");
            }
            return new DebianPackages.Result(100, "", "E: unexpected command " + line);
        }

        static DebianPackages.Result ok(String out) {
            return new DebianPackages.Result(0, out, "");
        }

        static void write(Path f, byte[] data) throws IOException {
            Files.createDirectories(f.getParent());
            Files.write(f, data);
        }
    }

    static GuestImage build(FakeApt fake, Optional<Path> out, Path cache) {
        return GuestImage.build(new DebianPackages(fake, false, m -> {}), "linux-image-cloud-amd64", out, cache, m -> {});
    }

    @Test
    void progressGoesThroughEveryStepOfABuildAndStraightToTheEndOfAReuse(@TempDir Path cache) {
        FakeApt fake = new FakeApt();
        List<String> steps = new java.util.ArrayList<>();
        BuildProgress record = (done, total, next) -> steps.add(done + "/" + total + " " + next.split(" ")[0]);
        GuestImage.build(new DebianPackages(fake, false, m -> {}), "linux-image-cloud-amd64", Optional.empty(), cache, m -> {}, record);
        assertEquals(List.of("0/5 resolving", "1/5 checking", "1/5 downloading", "2/5 unpacking", "3/5 extracting", "4/5 building",
                "5/5 done"), steps);
        steps.clear();
        GuestImage.build(new DebianPackages(fake, false, m -> {}), "linux-image-cloud-amd64", Optional.empty(), cache, m -> {}, record);
        assertEquals(List.of("0/5 resolving", "1/5 checking", "5/5 done"), steps);
    }

    static List<String> names(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void buildsIntoTheCacheAndASecondRunDoesNoWork(@TempDir Path cache) throws IOException {
        FakeApt fake = new FakeApt();
        GuestImage first = build(fake, Optional.empty(), cache);

        assertFalse(first.reused());
        assertEquals(cache.resolve("linux-image-" + RELEASE + "_6.1.999-1+busybox_1%3a1.35.0-4"), first.directory());
        assertArrayEquals(ELF, Files.readAllBytes(first.vmlinux()));
        assertTrue(Files.size(first.vmlinuz()) > ELF.length);
        assertTrue(Files.size(first.initramfs()) > 0);
        GuestManifest m = first.manifest();
        assertEquals(new Package("linux-image-" + RELEASE, "6.1.999-1"), m.kernel());
        assertEquals(RELEASE, m.kernelRelease());
        assertEquals("lz4", m.compression());
        assertEquals(0x1000ab0, m.pvhEntry());
        assertEquals(List.of("virtio_ring"), m.modules());
        assertEquals(Optional.of(m), GuestManifest.read(first.directory(), GuestImage.OUTPUTS));
        assertEquals(List.of("guest.properties", "initramfs.cpio.gz", "vmlinux", "vmlinuz"), names(first.directory()));
        assertTrue(names(cache).stream().allMatch(n -> n.equals(first.directory().getFileName().toString()) || n.endsWith(".lock")),
                "no temporary directories left: " + names(cache));

        GuestImage second = build(fake, Optional.empty(), cache);
        assertTrue(second.reused());
        assertEquals(1, fake.downloads, "the second run downloads nothing");
        assertEquals(4, fake.policyCalls, "two apt-cache policy calls per run");
        assertEquals(first.directory(), second.directory());
    }

    @Test
    void aDamagedGuestIsRebuilt(@TempDir Path cache) throws IOException {
        FakeApt fake = new FakeApt();
        GuestImage first = build(fake, Optional.empty(), cache);
        Files.write(first.vmlinux(), new byte[]{1, 2, 3});
        assertEquals(Optional.of("vmlinux has the wrong size"), first.manifest().mismatch(first.directory()));

        GuestImage again = build(fake, Optional.empty(), cache);
        assertFalse(again.reused());
        assertEquals(2, fake.downloads);
        assertArrayEquals(ELF, Files.readAllBytes(again.vmlinux()));
    }

    @Test
    void outIntoAnExistingDirectoryKeepsOtherFiles(@TempDir Path tmp) throws IOException {
        Path out = Files.createDirectories(tmp.resolve("guest"));
        Files.writeString(out.resolve("notes.txt"), "mine");
        GuestImage g = build(new FakeApt(), Optional.of(out), tmp.resolve("unused-cache"));
        assertEquals(out.toAbsolutePath(), g.directory());
        assertEquals(List.of("guest.properties", "initramfs.cpio.gz", "notes.txt", "vmlinux", "vmlinuz"), names(out));
        assertFalse(Files.exists(tmp.resolve("unused-cache")));
        assertEquals(List.of("guest"), names(tmp), "no temporary directories left");
    }

    @Test
    void directoryNameSpellsTheEpochColonAsApt() {
        assertEquals("linux-image-6.1.0-56-cloud-amd64_6.1.192-2+busybox_1%3a1.35.0-4+deb12u1+b1",
                GuestImage.directoryName(new Package("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2"),
                        new Package("busybox-static", "1:1.35.0-4+deb12u1+b1")));
    }
}
