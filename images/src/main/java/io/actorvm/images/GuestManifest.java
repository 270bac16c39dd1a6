package io.actorvm.images;

import io.actorvm.images.DebianPackages.Package;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * {@code guest.properties}: what a guest directory was built from and the size and sha256 of
 * each output. It is written last, so a directory whose manifest verifies against its files is a
 * complete guest; that is what lets a second build do no work, and an interrupted one never pass.
 *
 * @param files output file name to its size and digest, in output order
 */
public record GuestManifest(int format, String kernelRequested, Package kernel, String kernelRelease,
                            String compression, long pvhEntry, Package busybox, List<String> modules,
                            String cmdline, Map<String, FileDigest> files) {

    /** Bumped whenever the image layout or /init changes, so older cached guests get rebuilt. */
    public static final int FORMAT = 1;
    public static final String FILE_NAME = "guest.properties";

    public record FileDigest(long size, String sha256) {
        public static FileDigest of(Path file) {
            try (InputStream in = Files.newInputStream(file)) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                byte[] buf = new byte[1 << 16];
                long size = 0;
                for (int n; (n = in.read(buf)) > 0; ) {
                    sha.update(buf, 0, n);
                    size += n;
                }
                return new FileDigest(size, HexFormat.of().formatHex(sha.digest()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    public GuestManifest {
        modules = List.copyOf(modules);
        files = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(files));
    }

    /** Plain key=value lines in a fixed order (readable by {@link Properties}; no values need escaping). */
    public String render() {
        StringBuilder s = new StringBuilder();
        s.append("# actorvm guest: Linux and a busybox initramfs from Debian packages ('actorvm guest build').\n");
        s.append("# Written last: a directory whose files match these sizes and digests is complete.\n");
        put(s, "format", Integer.toString(format));
        put(s, "kernel.requested", kernelRequested);
        put(s, "kernel.package", kernel.name());
        put(s, "kernel.version", kernel.version());
        put(s, "kernel.release", kernelRelease);
        put(s, "kernel.compression", compression);
        put(s, "kernel.pvh-entry", "0x" + Long.toHexString(pvhEntry));
        put(s, "busybox.package", busybox.name());
        put(s, "busybox.version", busybox.version());
        put(s, "initramfs.modules", String.join(" ", modules));
        put(s, "cmdline", cmdline);
        files.forEach((name, d) -> {
            put(s, name + ".size", Long.toString(d.size()));
            put(s, name + ".sha256", d.sha256());
        });
        return s.toString();
    }

    private static void put(StringBuilder s, String key, String value) {
        if (value.contains("\\") || value.contains("\n")) throw new IllegalArgumentException("unexpected character in " + key);
        s.append(key).append('=').append(value).append('\n');
    }

    public void write(Path file) throws IOException {
        Files.writeString(file, render(), StandardCharsets.UTF_8);
    }

    /** The manifest in {@code dir}, or empty if it is missing, unreadable or from another format. */
    public static Optional<GuestManifest> read(Path dir, List<String> fileNames) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve(FILE_NAME), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
        try {
            if (Integer.parseInt(p.getProperty("format", "0")) != FORMAT) return Optional.empty();
            Map<String, FileDigest> files = new LinkedHashMap<>();
            for (String name : fileNames) {
                files.put(name, new FileDigest(Long.parseLong(required(p, name + ".size")), required(p, name + ".sha256")));
            }
            String modules = p.getProperty("initramfs.modules", "").strip();
            return Optional.of(new GuestManifest(FORMAT, required(p, "kernel.requested"),
                    new Package(required(p, "kernel.package"), required(p, "kernel.version")), required(p, "kernel.release"),
                    required(p, "kernel.compression"), Long.decode(required(p, "kernel.pvh-entry")),
                    new Package(required(p, "busybox.package"), required(p, "busybox.version")),
                    modules.isEmpty() ? List.of() : Arrays.asList(modules.split(" ")), p.getProperty("cmdline", ""), files));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static String required(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) throw new IllegalArgumentException("missing " + key);
        return v.strip();
    }

    /** Why {@code dir} does not hold exactly the files this manifest lists, or empty when it does. */
    public Optional<String> mismatch(Path dir) {
        for (Map.Entry<String, FileDigest> e : files.entrySet()) {
            Path f = dir.resolve(e.getKey());
            if (!Files.isRegularFile(f)) return Optional.of(e.getKey() + " is missing");
            try {
                if (Files.size(f) != e.getValue().size()) return Optional.of(e.getKey() + " has the wrong size");
            } catch (IOException ex) {
                return Optional.of(e.getKey() + " is unreadable");
            }
            try {
                if (!FileDigest.of(f).sha256().equals(e.getValue().sha256())) return Optional.of(e.getKey() + " has the wrong sha256");
            } catch (UncheckedIOException ex) {
                return Optional.of(e.getKey() + " is unreadable");
            }
        }
        return Optional.empty();
    }
}
