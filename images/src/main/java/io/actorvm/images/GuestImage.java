package io.actorvm.images;

import io.actorvm.boot.KernelFormatException;
import io.actorvm.images.DebianPackages.Package;
import org.apache.commons.io.file.PathUtils;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A Linux guest assembled from Debian packages: the kernel as shipped ({@code vmlinuz}), the ELF
 * inside it ({@code vmlinux}, which actorvm boots through its PVH note), a busybox initramfs with
 * the virtio modules, and {@code guest.properties} describing them.
 *
 * <p>Guests are cached per kernel and busybox version: versions are resolved first (cheap, local
 * apt lists), and a directory that already holds a verified guest for them is reused as it is.
 * A new guest is built in a temporary directory beside its destination and renamed into place,
 * with the manifest last, so an interrupted build never leaves something that looks complete.
 *
 * @param reused true when an existing, verified guest was found and nothing was built
 */
public record GuestImage(Path directory, GuestManifest manifest, boolean reused) {

    public static final String DEFAULT_KERNEL_PACKAGE = "linux-image-cloud-amd64";
    public static final String BUSYBOX_PACKAGE = "busybox-static";
    public static final String VMLINUZ = "vmlinuz", VMLINUX = "vmlinux", INITRAMFS = "initramfs.cpio.gz";
    static final List<String> OUTPUTS = List.of(VMLINUZ, VMLINUX, INITRAMFS);
    /** ttyS0 is our COM1; reboot=k makes the guest's final reboot an i8042 reset, which ends the VM; panic=-1 reboots at once on a panic; pci=off: our machine has no PCI (virtio is on MMIO), as Firecracker tells its guests. */
    public static final String CMDLINE = "console=ttyS0 reboot=k panic=-1 pci=off";

    public Path vmlinuz() {
        return directory.resolve(VMLINUZ);
    }

    public Path vmlinux() {
        return directory.resolve(VMLINUX);
    }

    public Path initramfs() {
        return directory.resolve(INITRAMFS);
    }

    public Path properties() {
        return directory.resolve(GuestManifest.FILE_NAME);
    }

    /** {@code ${XDG_CACHE_HOME:-~/.cache}/actorvm/guests}. */
    public static Path defaultCacheRoot() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute() ? Path.of(xdg)
                : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("actorvm").resolve("guests");
    }

    /**
     * Builds (or finds) the guest for {@code kernelPackage}: into {@code out} when given,
     * otherwise into the cache directory named after the resolved versions.
     */
    public static GuestImage build(String kernelPackage, Optional<Path> out, Consumer<String> log) {
        return build(kernelPackage, out, log, BuildProgress.NONE);
    }

    /** As {@link #build(String, Optional, Consumer)}, telling {@code progress} each of its {@value #STEPS} steps. */
    public static GuestImage build(String kernelPackage, Optional<Path> out, Consumer<String> log, BuildProgress progress) {
        return build(new DebianPackages(log), kernelPackage, out, defaultCacheRoot(), log, progress);
    }

    /** Resolve, download, unpack, vmlinux, initramfs. */
    static final int STEPS = 5;

    static GuestImage build(DebianPackages apt, String kernelPackage, Optional<Path> out, Path cacheRoot, Consumer<String> log) {
        return build(apt, kernelPackage, out, cacheRoot, log, BuildProgress.NONE);
    }

    static GuestImage build(DebianPackages apt, String kernelPackage, Optional<Path> out, Path cacheRoot, Consumer<String> log,
                            BuildProgress progress) {
        long t0 = System.nanoTime();
        progress.step(0, STEPS, "resolving " + kernelPackage + " and " + BUSYBOX_PACKAGE + " with apt");
        List<Package> asked = apt.candidates(List.of(kernelPackage, BUSYBOX_PACKAGE));
        Package requested = asked.get(0), busybox = asked.get(1);
        String imageName = apt.kernelImagePackage(requested);
        Package kernel = imageName.equals(requested.name()) ? requested : apt.candidate(imageName);
        log.accept("resolved %s %s -> %s %s, %s %s (%s)".formatted(kernelPackage, requested.version(), kernel.name(),
                kernel.version(), busybox.name(), busybox.version(), since(t0)));

        Path target = out.orElseGet(() -> cacheRoot.resolve(directoryName(kernel, busybox))).toAbsolutePath().normalize();
        Path parent = target.getParent();
        try {
            Files.createDirectories(parent);
            progress.step(1, STEPS, "checking " + target.getFileName());
            if (out.isPresent()) return buildInto(target, requested.name(), kernel, busybox, apt, log, t0, progress);
            // Two builds of the same cached guest wait for each other; the second then finds it done.
            try (FileChannel lockFile = FileChannel.open(parent.resolve("." + target.getFileName() + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = lockFile.lock()) {
                removeLeftovers(target);
                return buildInto(target, requested.name(), kernel, busybox, apt, log, t0, progress);
            }
        } catch (IOException e) {
            throw new GuestBuildException("cannot write the guest to " + target + ": " + e.getMessage(), e);
        }
    }

    /** {@code <kernel package>_<version>+busybox_<version>}, with ':' (epochs) spelt %3a as apt spells it in file names. */
    static String directoryName(Package kernel, Package busybox) {
        return (kernel.name() + "_" + kernel.version() + "+busybox_" + busybox.version()).replace(":", "%3a").replace("/", "_");
    }

    private static GuestImage buildInto(Path target, String requested, Package kernel, Package busybox, DebianPackages apt,
                                        Consumer<String> log, long t0, BuildProgress progress) throws IOException {
        Optional<GuestManifest> existing = GuestManifest.read(target, OUTPUTS)
                .filter(m -> m.kernel().equals(kernel) && m.busybox().equals(busybox));
        if (existing.isPresent()) {
            Optional<String> mismatch = existing.get().mismatch(target);
            if (mismatch.isEmpty()) {
                log.accept("up to date: " + target + " (verified, " + since(t0) + ")");
                progress.step(STEPS, STEPS, "done");
                return new GuestImage(target, existing.get(), true);
            }
            log.accept("rebuilding " + target + ": " + mismatch.get());
        }

        Path parent = target.getParent();
        String base = "." + target.getFileName();
        Path work = Files.createTempDirectory(parent, base + ".work-");
        Path staging = Files.createTempDirectory(parent, base + ".new-");
        // Temporary directories are private (0700); the guest, once renamed into place, should not be.
        Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rwxr-xr-x"));
        // Ctrl-C runs shutdown hooks but not finally blocks: remove our temporary directories either way.
        Thread cleanup = new Thread(() -> {
            deleteTree(work);
            deleteTree(staging);
        });
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            long t = System.nanoTime();
            progress.step(1, STEPS, "downloading " + kernel.name() + " and " + busybox.name());
            Path debs = Files.createDirectory(work.resolve("debs"));
            List<Path> files = apt.download(debs, List.of(kernel, busybox));
            log.accept("downloaded %s (%.1f MB) and %s (%s)".formatted(files.get(0).getFileName(), Files.size(files.get(0)) / 1e6,
                    files.get(1).getFileName(), since(t)));
            t = System.nanoTime();
            progress.step(2, STEPS, "unpacking with dpkg-deb");
            Path root = Files.createDirectory(work.resolve("root"));
            for (Path deb : files) apt.extract(deb, root);
            log.accept("unpacked with dpkg-deb (" + since(t) + ")");

            progress.step(3, STEPS, "extracting vmlinux from the bzImage");
            GuestManifest manifest = assemble(root, staging, requested, kernel, busybox, log, progress);
            publish(staging, target);
            progress.step(STEPS, STEPS, "done");
            log.accept("built " + target + " (" + since(t0) + " in all)");
            return new GuestImage(target, manifest, false);
        } finally {
            deleteTree(work);
            deleteTree(staging);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or about to; nothing left to do
            }
        }
    }

    /** Writes vmlinuz, vmlinux, the initramfs and (last) the manifest into {@code dir}. */
    static GuestManifest assemble(Path root, Path dir, String requested, Package kernel, Package busybox, Consumer<String> log)
            throws IOException {
        return assemble(root, dir, requested, kernel, busybox, log, BuildProgress.NONE);
    }

    static GuestManifest assemble(Path root, Path dir, String requested, Package kernel, Package busybox, Consumer<String> log,
                                  BuildProgress progress) throws IOException {
        long t = System.nanoTime();
        Path bzImage = single(root.resolve("boot"), "vmlinuz-", kernel.name());
        String release = bzImage.getFileName().toString().substring("vmlinuz-".length());
        Files.copy(bzImage, dir.resolve(VMLINUZ), StandardCopyOption.REPLACE_EXISTING);
        KernelPayload.Vmlinux vmlinux;
        try {
            vmlinux = KernelPayload.extractVmlinux(Files.readAllBytes(bzImage));
        } catch (KernelFormatException e) {
            throw new GuestBuildException(bzImage.getFileName() + ": " + e.getMessage(), e);
        }
        Files.write(dir.resolve(VMLINUX), vmlinux.elf());
        log.accept("vmlinux: %s payload %.1f MB -> %.1f MB ELF, PVH entry 0x%x (%s)".formatted(vmlinux.compression().label(),
                vmlinux.payloadLength() / 1e6, vmlinux.elf().length / 1e6, vmlinux.pvhEntry(), since(t)));

        t = System.nanoTime();
        progress.step(4, STEPS, "building the initramfs");
        Path busyboxBinary = root.resolve("bin/busybox");
        if (!Files.isRegularFile(busyboxBinary)) throw new GuestBuildException(busybox.name() + " has no /bin/busybox");
        List<KernelModules.Module> modules = KernelModules.select(root, release, KernelModules.VIRTIO, w -> log.accept("note: " + w));
        Initramfs initramfs = Initramfs.forGuest(Files.readAllBytes(busyboxBinary), modules);
        try (OutputStream o = Files.newOutputStream(dir.resolve(INITRAMFS))) {
            initramfs.writeGzipped(o);
        }
        log.accept("initramfs: busybox + %d modules, %.1f MB (%s)".formatted(modules.size(),
                Files.size(dir.resolve(INITRAMFS)) / 1e6, since(t)));

        Map<String, GuestManifest.FileDigest> digests = new LinkedHashMap<>();
        for (String name : OUTPUTS) digests.put(name, GuestManifest.FileDigest.of(dir.resolve(name)));
        GuestManifest manifest = new GuestManifest(GuestManifest.FORMAT, requested, kernel, release,
                vmlinux.compression().label(), vmlinux.pvhEntry(), busybox,
                modules.stream().map(KernelModules.Module::name).toList(), CMDLINE, digests);
        manifest.write(dir.resolve(GuestManifest.FILE_NAME));
        return manifest;
    }

    /**
     * Moves the finished guest into place. A new destination is one atomic rename of the whole
     * directory. An existing one (an older or damaged guest, or a user's --out directory) loses
     * its manifest first and gets it back last, so it never looks complete in between; other
     * files in it are left alone.
     */
    static void publish(Path staging, Path target) throws IOException {
        if (!Files.exists(target)) {
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
                return;
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                // created meanwhile: replace file by file below
            }
        }
        if (!Files.isDirectory(target)) throw new GuestBuildException(target + " exists and is not a directory");
        Files.deleteIfExists(target.resolve(GuestManifest.FILE_NAME));
        List<String> names = new ArrayList<>(OUTPUTS);
        names.add(GuestManifest.FILE_NAME);
        for (String name : names) {
            try {
                Files.move(staging.resolve(name), target.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(staging.resolve(name), target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Temporary directories of builds that were killed (only called with the cache lock held). */
    private static void removeLeftovers(Path target) throws IOException {
        String base = "." + target.getFileName();
        try (Stream<Path> siblings = Files.list(target.getParent())) {
            siblings.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(base + ".work-") || n.startsWith(base + ".new-");
            }).forEach(GuestImage::deleteTree);
        }
    }

    private static Path single(Path dir, String prefix, String pkg) throws IOException {
        if (!Files.isDirectory(dir)) throw new GuestBuildException(pkg + " has no /boot directory: not a kernel image package");
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> found = files.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
            if (found.size() != 1) {
                throw new GuestBuildException(pkg + " has " + found.size() + " /boot/" + prefix + "* files, expected one");
            }
            return found.getFirst();
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try {
            PathUtils.deleteDirectory(dir);
        } catch (IOException e) {
            // best effort: a leftover temporary directory is hidden and removed by the next build
        }
    }

    private static String since(long t0) {
        return "%.1f s".formatted((System.nanoTime() - t0) / 1e9);
    }
}
