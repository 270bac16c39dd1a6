package io.actorvm.images;

import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Picks kernel modules out of an unpacked kernel package for the initramfs, in an order
 * {@code insmod} can load them. Debian's packages ship no {@code modules.dep} (the postinst runs
 * depmod), and running {@code depmod} in the guest costs seconds on slow hosts, so the order is
 * worked out here: the wanted list in its order, each module preceded by what its
 * {@code .modinfo depends=} names (so a dependency that is a module, not built in, comes along).
 */
public final class KernelModules {

    /** The virtio drivers a guest of ours needs, in load order (dependencies first). */
    public static final List<String> VIRTIO = List.of("virtio_ring", "virtio", "virtio_pci_legacy_dev",
            "virtio_pci_modern_dev", "virtio_pci", "virtio_mmio", "virtio_blk", "failover", "net_failover",
            "virtio_net", "virtio-rng", "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport",
            "virtio_balloon");

    /**
     * One module as it goes into the initramfs.
     *
     * @param path     where it goes, relative to the root: {@code lib/modules/<release>/kernel/...ko}
     * @param contents the uncompressed {@code .ko}
     */
    public record Module(String name, String path, byte[] contents, List<String> depends) {}

    private KernelModules() {}

    /**
     * Modules under {@code root/lib/modules/<release>/kernel} named in {@code wanted} plus their
     * dependencies, dependencies first. Wanted modules the kernel lacks (or has built in) are
     * reported to {@code warn} and skipped; {@code .ko.xz} files are decompressed.
     */
    public static List<Module> select(Path root, String release, List<String> wanted, Consumer<String> warn) {
        String base = "lib/modules/" + release;
        Path kernelDir = root.resolve(base).resolve("kernel");
        if (!Files.isDirectory(kernelDir)) throw new GuestBuildException("kernel package has no " + base + "/kernel directory");
        Map<String, Path> byName = new HashMap<>();
        try (Stream<Path> files = Files.walk(kernelDir)) {
            files.filter(Files::isRegularFile).forEach(f -> {
                String file = f.getFileName().toString();
                String name = file.endsWith(".ko") ? file.substring(0, file.length() - 3)
                        : file.endsWith(".ko.xz") ? file.substring(0, file.length() - 6) : null;
                if (name != null) byName.put(canonical(name), f);
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Module> ordered = new ArrayList<>();
        Set<String> done = new HashSet<>();
        for (String name : wanted) {
            if (!byName.containsKey(canonical(name))) {
                warn.accept("module " + name + " is not in the kernel package (built in or not configured), skipped");
                continue;
            }
            add(name, root, byName, done, new HashSet<>(), ordered, warn);
        }
        return List.copyOf(ordered);
    }

    private static void add(String name, Path root, Map<String, Path> byName, Set<String> done, Set<String> visiting,
                            List<Module> out, Consumer<String> warn) {
        String key = canonical(name);
        if (done.contains(key)) return;
        if (!visiting.add(key)) throw new GuestBuildException("kernel modules depend on each other in a cycle through " + name);
        Path file = byName.get(key);
        if (file == null) {
            // depends= names only modules, so a missing one will make insmod fail in the guest; say so now.
            warn.accept("module " + name + " is needed by another module but is not in the kernel package");
            done.add(key);
            return;
        }
        byte[] contents = read(file);
        List<String> depends = depends(contents);
        for (String dep : depends) add(dep, root, byName, done, visiting, out, warn);
        String rel = root.relativize(file).toString().replace('\\', '/');
        if (rel.endsWith(".xz")) rel = rel.substring(0, rel.length() - 3);
        String fileName = file.getFileName().toString();
        String moduleName = fileName.substring(0, fileName.indexOf(".ko"));
        out.add(new Module(moduleName, rel, contents, depends));
        done.add(key);
        visiting.remove(key);
    }

    /** The {@code depends=} entry of a module's {@code .modinfo} section (NUL-separated key=value strings). */
    static List<String> depends(byte[] ko) {
        byte[] key = "\0depends=".getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 0; i + key.length <= ko.length; i++) {
            for (int j = 0; j < key.length; j++) if (ko[i + j] != key[j]) continue outer;
            int start = i + key.length;
            int end = start;
            while (end < ko.length && ko[end] != 0) end++;
            String value = new String(ko, start, end - start, StandardCharsets.US_ASCII).strip();
            return value.isEmpty() ? List.of() : List.of(value.split(","));
        }
        return List.of();
    }

    /** The kernel treats '-' and '_' in module names as the same character. */
    static String canonical(String name) {
        return name.replace('-', '_');
    }

    private static byte[] read(Path file) {
        try {
            if (!file.getFileName().toString().endsWith(".xz")) return Files.readAllBytes(file);
            try (InputStream in = new XZCompressorInputStream(Files.newInputStream(file))) {
                return in.readAllBytes();
            }
        } catch (IOException e) {
            throw new GuestBuildException("cannot read kernel module " + file + ": " + e.getMessage(), e);
        }
    }
}
