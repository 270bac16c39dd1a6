package io.actorvm.images;

import io.actorvm.images.DebianPackages.Package;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The kernel and initramfs of the emulated KVM host: Debian's generic kernel (it has
 * {@code kvm-amd} and 9p, the cloud kernel lacks 9p) and a busybox initramfs whose {@code /init}
 * ({@code kvm-host-init.sh}) mounts the machine's own files and runs one command.
 *
 * <p>Cached like {@link GuestImage}: the directory is named after the package versions and a
 * digest of the init script, so a second start downloads and builds nothing, and a changed
 * script builds a new image.
 *
 * @param directory holds {@code vmlinuz} and {@code initramfs.cpio.gz}
 */
public record KvmHostImage(Path directory, String kernelRelease) {

    public static final String KERNEL_PACKAGE = "linux-image-amd64";
    static final String INIT_RESOURCE = "kvm-host-init.sh";
    private static final String COMPLETE = "complete";

    /** What L1 needs: virtio-pci, 9p, overlay, the serial ports, entropy, KVM, and tap/veth for network tests. */
    static final List<String> MODULES = List.of("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
            "virtio_pci", "netfs", "fscache", "9pnet", "9pnet_virtio", "9p", "overlay", "virtio_console", "virtio-rng",
            "irqbypass", "kvm", "kvm-amd", "tun", "veth", "bridge");

    public Path vmlinuz() {
        return directory.resolve(GuestImage.VMLINUZ);
    }

    public Path initramfs() {
        return directory.resolve(GuestImage.INITRAMFS);
    }

    /** {@code ${XDG_CACHE_HOME:-~/.cache}/actorvm/kvm-host}. */
    public static Path defaultCacheRoot() {
        return GuestImage.defaultCacheRoot().resolveSibling("kvm-host");
    }

    /** Finds the cached image for the current package versions, or builds it. */
    public static KvmHostImage ensure(Consumer<String> log) {
        return ensure(log, BuildProgress.NONE);
    }

    /** Resolve, download, unpack, initramfs. */
    static final int STEPS = 4;

    /** As {@link #ensure(Consumer)}, telling {@code progress} each of its {@value #STEPS} steps. */
    public static KvmHostImage ensure(Consumer<String> log, BuildProgress progress) {
        progress.step(0, STEPS, "resolving " + KERNEL_PACKAGE + " and " + GuestImage.BUSYBOX_PACKAGE + " with apt");
        DebianPackages apt = new DebianPackages(log);
        List<Package> asked = apt.candidates(List.of(KERNEL_PACKAGE, GuestImage.BUSYBOX_PACKAGE));
        Package busybox = asked.get(1);
        Package kernel = apt.candidate(apt.kernelImagePackage(asked.get(0)));
        byte[] init = initScript();
        Path root = defaultCacheRoot();
        Path target = root.resolve(GuestImage.directoryName(kernel, busybox) + "+init_" + digest(init).substring(0, 12));
        try {
            Files.createDirectories(root);
            try (FileChannel lockFile = FileChannel.open(root.resolve("." + target.getFileName() + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = lockFile.lock()) {
                if (Files.isRegularFile(target.resolve(COMPLETE))) {
                    progress.step(STEPS, STEPS, "done");
                    return new KvmHostImage(target, Files.readString(target.resolve(COMPLETE)).strip());
                }
                return build(apt, kernel, busybox, init, target, log, progress);
            }
        } catch (IOException e) {
            throw new GuestBuildException("cannot write the KVM host image to " + target + ": " + e.getMessage(), e);
        }
    }

    private static KvmHostImage build(DebianPackages apt, Package kernel, Package busybox, byte[] init, Path target,
                                      Consumer<String> log, BuildProgress progress) throws IOException {
        long t0 = System.nanoTime();
        GuestImage.deleteTree(target);
        Path work = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".work-");
        try {
            progress.step(1, STEPS, "downloading " + kernel.name() + " and " + busybox.name());
            Path debs = Files.createDirectory(work.resolve("debs"));
            List<Path> files = apt.download(debs, List.of(kernel, busybox));
            progress.step(2, STEPS, "unpacking with dpkg-deb");
            Path unpacked = Files.createDirectory(work.resolve("root"));
            for (Path deb : files) apt.extract(deb, unpacked);
            Path bzImage;
            try (var boot = Files.list(unpacked.resolve("boot"))) {
                bzImage = boot.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst()
                        .orElseThrow(() -> new GuestBuildException(kernel.name() + " has no /boot/vmlinuz-*"));
            }
            String release = bzImage.getFileName().toString().substring("vmlinuz-".length());
            progress.step(3, STEPS, "building the initramfs");
            List<KernelModules.Module> modules = KernelModules.select(unpacked, release, MODULES, w -> log.accept("note: " + w));

            Initramfs fs = new Initramfs();
            for (String dir : List.of("bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "ctl")) fs.directory(dir, 0755);
            fs.charDevice("dev/console", 0600, 5, 1);
            fs.file("bin/busybox", 0755, Files.readAllBytes(unpacked.resolve("bin/busybox")));
            fs.symlink("bin/sh", "busybox");
            for (KernelModules.Module m : modules) fs.file(m.path(), 0644, m.contents());
            fs.file("modules", 0644, modules.stream().map(m -> "/" + m.path()).collect(Collectors.joining("\n", "", "\n"))
                    .getBytes(StandardCharsets.US_ASCII));
            fs.file("init", 0755, init);

            Path staging = Files.createDirectory(work.resolve("image"));
            Files.copy(bzImage, staging.resolve(GuestImage.VMLINUZ));
            try (OutputStream o = Files.newOutputStream(staging.resolve(GuestImage.INITRAMFS))) {
                fs.writeGzipped(o);
            }
            Files.writeString(staging.resolve(COMPLETE), release + "\n");
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            progress.step(STEPS, STEPS, "done");
            log.accept("built %s: %s + busybox + %d modules (%.1f s)".formatted(target, release, modules.size(),
                    (System.nanoTime() - t0) / 1e9));
            return new KvmHostImage(target, release);
        } finally {
            GuestImage.deleteTree(work);
        }
    }

    static byte[] initScript() {
        try (InputStream in = KvmHostImage.class.getResourceAsStream(INIT_RESOURCE)) {
            if (in == null) throw new IllegalStateException(INIT_RESOURCE + " is missing from the classpath");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String digest(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
