package io.actorvm.images;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The host's apt and dpkg, used only to fetch and unpack packages ({@code apt-cache},
 * {@code apt-get download}, {@code dpkg-deb -x}): nothing is installed into the host. Each call
 * is a subprocess in the C locale (so the output we parse is in English); a failure becomes a
 * one-line {@link GuestBuildException} quoting apt's own error.
 */
public final class DebianPackages {

    /** A package at one version, as apt names it ({@code name=version}). */
    public record Package(String name, String version) {
        public String spec() {
            return name + "=" + version;
        }
    }

    /** Runs a command in a directory; tests replace it. */
    interface Runner {
        Result run(Path dir, List<String> command) throws IOException;
    }

    record Result(int status, String stdout, String stderr) {}

    private static final Pattern CANDIDATE = Pattern.compile("\\s*Candidate:\\s*(\\S+)\\s*");
    /** Debian's real kernel image packages: linux-image-6.1.0-56-cloud-amd64 and the like. */
    private static final Pattern KERNEL_IMAGE = Pattern.compile("linux-image-[0-9][A-Za-z0-9.+~-]*");

    private final Runner runner;
    private final boolean root;
    private final Consumer<String> log;
    private boolean updated;

    public DebianPackages(Consumer<String> log) {
        this(DebianPackages::exec, isRoot(), log);
    }

    DebianPackages(Runner runner, boolean root, Consumer<String> log) {
        this.runner = runner;
        this.root = root;
        this.log = log;
    }

    /** The version apt would install of {@code name}; see {@link #candidates}. */
    public Package candidate(String name) {
        return candidates(List.of(name)).getFirst();
    }

    /**
     * The versions apt would install of {@code names} (one apt-cache call: each loads the whole
     * package cache, ~0.4 s). When one has no candidate and we are root, runs {@code apt-get update}
     * once (an empty or stale package list is the usual cause) and asks again.
     */
    public List<Package> candidates(List<String> names) {
        Map<String, String> found = policy(names);
        if (!found.keySet().containsAll(names) && root && !updated) {
            String missing = names.stream().filter(n -> !found.containsKey(n)).findFirst().orElseThrow();
            log.accept("no candidate for " + missing + " in the apt lists: running apt-get update");
            updated = true;
            Result r = call(List.of("apt-get", "update"), Path.of("/"));
            if (r.status() != 0) throw new GuestBuildException("apt-get update failed: " + aptError(r));
            found.clear();
            found.putAll(policy(names));
        }
        for (String name : names) {
            if (found.containsKey(name)) continue;
            if (!hasPackageLists()) {
                throw new GuestBuildException("apt has no package lists" + (root ? " even after apt-get update (check /etc/apt/sources.list)"
                        : ": run 'apt-get update' as root first"));
            }
            throw new GuestBuildException("no installable version of package '" + name + "' in the apt lists ("
                    + (root ? "unknown package?" : "unknown package, or stale lists: run 'apt-get update' as root") + ")");
        }
        return names.stream().map(n -> new Package(n, found.get(n))).toList();
    }

    private Map<String, String> policy(List<String> names) {
        List<String> command = new ArrayList<>(List.of("apt-cache", "policy"));
        command.addAll(names);
        return parsePolicy(run(command.toArray(String[]::new)).stdout());
    }

    /**
     * The real kernel image package behind {@code pkg}: {@code linux-image-amd64} and
     * {@code linux-image-cloud-amd64} are metapackages that depend on it, pinned to their own
     * version; a real one ({@code linux-image-6.1.0-56-amd64}) is returned as it is.
     */
    public String kernelImagePackage(Package pkg) {
        String current = pkg.name();
        String version = pkg.version();
        for (int depth = 0; depth < 4; depth++) {
            Result r = run("apt-cache", "show", "--no-all-versions", current + "=" + version);
            Optional<String> dep = parseKernelImageDependency(r.stdout());
            if (dep.isEmpty()) {
                if (KERNEL_IMAGE.matcher(current).matches()) return current;
                throw new GuestBuildException("'" + pkg.name() + "' is not a Linux kernel image package (try linux-image-cloud-amd64 or linux-image-amd64)");
            }
            current = dep.get();
            if (KERNEL_IMAGE.matcher(current).matches()) return current;
            version = candidate(current).version();
        }
        throw new GuestBuildException("cannot resolve the kernel image package behind '" + pkg.name() + "'");
    }

    /** Downloads the packages' .deb files into {@code dir}; returns them in the order given. */
    public List<Path> download(Path dir, List<Package> packages) {
        List<String> command = new ArrayList<>(List.of("apt-get", "download", "-q"));
        packages.forEach(p -> command.add(p.spec()));
        Result r = call(command, dir);
        if (r.status() != 0) throw new GuestBuildException("apt-get download failed: " + aptError(r));
        List<Path> debs = new ArrayList<>();
        for (Package p : packages) {
            // apt names the file <name>_<version with ':' as %3a>_<arch>.deb
            String prefix = p.name() + "_" + p.version().replace(":", "%3a") + "_";
            try (Stream<Path> files = Files.list(dir)) {
                debs.add(files.filter(f -> f.getFileName().toString().startsWith(prefix) && f.toString().endsWith(".deb"))
                        .findFirst()
                        .orElseThrow(() -> new GuestBuildException("apt-get download did not produce " + prefix + "*.deb")));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return debs;
    }

    /** Unpacks a .deb's files (not its scripts) under {@code into}. */
    public void extract(Path deb, Path into) {
        Result r = call(List.of("dpkg-deb", "-x", deb.toString(), into.toString()), into);
        if (r.status() != 0) throw new GuestBuildException("dpkg-deb -x " + deb.getFileName() + " failed: " + firstLine(r.stderr()));
    }

    // --- parsing (package-private for tests) ---

    /**
     * Package name to candidate version from {@code apt-cache policy} output: a block per package,
     * opened by {@code name:} at the start of a line. Packages without a candidate (unknown ones
     * print nothing at all) are absent.
     */
    static Map<String, String> parsePolicy(String policyOutput) {
        Map<String, String> out = new HashMap<>();
        String current = null;
        for (String line : policyOutput.split("\n")) {
            if (!line.isEmpty() && !Character.isWhitespace(line.charAt(0)) && line.endsWith(":")) {
                current = line.substring(0, line.length() - 1);
                continue;
            }
            Matcher m = CANDIDATE.matcher(line);
            if (current != null && m.matches() && !m.group(1).equals("(none)")) out.put(current, m.group(1));
        }
        return out;
    }

    /** The first {@code linux-image-*} name in the Depends field of one {@code apt-cache show} record. */
    static Optional<String> parseKernelImageDependency(String showOutput) {
        for (String line : showOutput.split("\n")) {
            if (!line.startsWith("Depends:") && !line.startsWith("Pre-Depends:")) continue;
            for (String clause : line.substring(line.indexOf(':') + 1).split(",")) {
                for (String alternative : clause.split("\\|")) {
                    String name = alternative.strip().split("[\\s(:]", 2)[0];
                    if (name.startsWith("linux-image-")) return Optional.of(name);
                }
            }
        }
        return Optional.empty();
    }

    /** apt's "E:" lines say what went wrong (network, unknown version); warnings ("W:") do not. */
    static String aptError(Result r) {
        String all = r.stderr() + "\n" + r.stdout();
        List<String> errors = all.lines().filter(l -> l.startsWith("E: ")).map(l -> l.substring(3).strip().replaceAll("\\s+", " ")).toList();
        if (errors.size() == 1) return errors.getFirst();
        if (errors.size() > 1) return errors.getFirst() + " (and " + (errors.size() - 1) + (errors.size() == 2 ? " more error)" : " more errors)");
        String first = firstLine(r.stderr());
        return first.isEmpty() ? "exit status " + r.status() : first;
    }

    private boolean hasPackageLists() {
        // 'apt-cache policy' lists the indexes it loaded; only downloaded lists end in "Packages".
        return run("apt-cache", "policy").stdout().lines().anyMatch(l -> l.strip().endsWith(" Packages"));
    }

    private Result run(String... command) {
        Result r = call(List.of(command), Path.of("/"));
        if (r.status() != 0) throw new GuestBuildException(command[0] + " " + command[1] + " failed: " + aptError(r));
        return r;
    }

    private Result call(List<String> command, Path dir) {
        try {
            return runner.run(dir, command);
        } catch (IOException e) {
            throw new GuestBuildException(command.getFirst() + " is not available (" + firstLine(e.getMessage())
                    + "): building a guest needs a Debian-based host with apt-get, apt-cache and dpkg-deb", e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        return s.lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst().orElse("");
    }

    static boolean isRoot() {
        try {
            // /proc/self belongs to the process's effective uid.
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    private static Result exec(Path dir, List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().put("LC_ALL", "C");
        pb.environment().put("LANG", "C");
        pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
        Process p = pb.start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        String out = drain(p.getInputStream());
        try {
            int status = p.waitFor();
            return new Result(status, out, err.join());
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new GuestBuildException("interrupted while running " + String.join(" ", command));
        }
    }

    private static String drain(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
