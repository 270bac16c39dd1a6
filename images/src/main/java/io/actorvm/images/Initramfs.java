package io.actorvm.images;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * An initramfs: the files the kernel unpacks into its root file system before running
 * {@code /init}. Kept as a list of entries and written as the kernel reads it: a gzip-compressed
 * cpio archive in the "newc" format (Documentation/driver-api/early-userspace/buffer-format.rst).
 * Every entry is owned by root and has a fixed time stamp, so the same inputs give the same bytes
 * (and the same sha256). Parent directories are added, in order, before anything inside them.
 */
public final class Initramfs {

    public sealed interface Entry permits Directory, RegularFile, Symlink, CharDevice {
        /** Relative to the root, without a leading slash; the root itself is {@code "."}. */
        String path();
    }

    public record Directory(String path, int permissions) implements Entry {}

    public record RegularFile(String path, int permissions, byte[] contents) implements Entry {}

    public record Symlink(String path, String target) implements Entry {}

    public record CharDevice(String path, int permissions, int major, int minor) implements Entry {}

    /** The marker line /init prints first; tests and tools wait for it on the console. */
    public static final String INIT_MARKER = "actorvm-guest: init started";
    /** 1970-01-01: any fixed value makes the archive reproducible. */
    static final long MTIME = 0;

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public Initramfs() {
        entries.put(".", new Directory(".", 0755));
    }

    public Initramfs directory(String path, int permissions) {
        String p = normalize(path);
        if (p.equals(".")) {
            entries.put(".", new Directory(".", permissions));
            return this;
        }
        parents(p);
        Entry old = entries.get(p);
        if (old != null && !(old instanceof Directory)) throw new IllegalArgumentException(p + " is already in the initramfs as a non-directory");
        entries.put(p, new Directory(p, permissions));
        return this;
    }

    public Initramfs file(String path, int permissions, byte[] contents) {
        return add(new RegularFile(normalize(path), permissions, contents.clone()));
    }

    public Initramfs symlink(String path, String target) {
        if (target.isEmpty()) throw new IllegalArgumentException("empty symlink target for " + path);
        return add(new Symlink(normalize(path), target));
    }

    public Initramfs charDevice(String path, int permissions, int major, int minor) {
        return add(new CharDevice(normalize(path), permissions, major, minor));
    }

    public List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    private Initramfs add(Entry e) {
        if (e.path().equals(".")) throw new IllegalArgumentException("the root can only be a directory");
        if (entries.containsKey(e.path())) throw new IllegalArgumentException(e.path() + " is already in the initramfs");
        parents(e.path());
        entries.put(e.path(), e);
        return this;
    }

    private void parents(String path) {
        int slash = -1;
        while ((slash = path.indexOf('/', slash + 1)) > 0) {
            String parent = path.substring(0, slash);
            Entry existing = entries.get(parent);
            if (existing == null) entries.put(parent, new Directory(parent, 0755));
            else if (!(existing instanceof Directory)) throw new IllegalArgumentException(parent + " is not a directory");
        }
    }

    static String normalize(String path) {
        String p = path;
        while (p.startsWith("/")) p = p.substring(1);
        while (p.endsWith("/")) p = p.substring(0, p.length() - 1);
        if (p.isEmpty() || p.equals(".")) return ".";
        for (String part : p.split("/")) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) throw new IllegalArgumentException("bad initramfs path: " + path);
        }
        return p;
    }

    /** Writes the archive as gzip-compressed newc cpio, the form the kernel's initramfs unpacker takes. */
    public void writeGzipped(OutputStream out) throws IOException {
        GZIPOutputStream gz = new GZIPOutputStream(out, 1 << 16) {
            {
                def.setLevel(Deflater.BEST_COMPRESSION);
            }
        };
        writeCpio(gz);
        gz.finish();
    }

    /** Writes the uncompressed newc cpio archive (with its TRAILER!!! entry); does not close {@code out}. */
    public void writeCpio(OutputStream out) throws IOException {
        try (CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(new NonClosing(out), CpioConstants.FORMAT_NEW,
                CpioConstants.BLOCK_SIZE, StandardCharsets.US_ASCII.name())) {
            for (Entry e : entries.values()) {
                writeEntry(cpio, e);
            }
            cpio.finish();
        }
    }

    private static void writeEntry(CpioArchiveOutputStream cpio, Entry e) throws IOException {
        byte[] data = switch (e) {
            case RegularFile f -> f.contents();
            case Symlink s -> s.target().getBytes(StandardCharsets.UTF_8); // a symlink's data is its target
            case Directory d -> new byte[0];
            case CharDevice c -> new byte[0];
        };
        CpioArchiveEntry entry = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, e.path(), data.length);
        entry.setMode(switch (e) {
            case Directory d -> CpioConstants.C_ISDIR | d.permissions();
            case RegularFile f -> CpioConstants.C_ISREG | f.permissions();
            case Symlink s -> CpioConstants.C_ISLNK | 0777;
            case CharDevice c -> CpioConstants.C_ISCHR | c.permissions();
        });
        if (e instanceof CharDevice c) {
            entry.setRemoteDeviceMaj(c.major());
            entry.setRemoteDeviceMin(c.minor());
        }
        entry.setUID(0);
        entry.setGID(0);
        entry.setNumberOfLinks(e instanceof Directory ? 2 : 1);
        entry.setTime(MTIME);
        cpio.putArchiveEntry(entry);
        cpio.write(data);
        cpio.closeArchiveEntry();
    }

    /**
     * The actorvm guest: busybox, the given modules and the generated {@code /init}, plus the
     * directories init mounts on and a {@code /dev/console} node. The node matters: the kernel
     * opens /dev/console for init's stdin/stdout/stderr before init runs, so before init can
     * mount devtmpfs; without it init would start with no console at all.
     */
    public static Initramfs forGuest(byte[] busybox, List<KernelModules.Module> modules) {
        Initramfs fs = new Initramfs();
        for (String dir : List.of("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "run", "root", "mnt")) {
            fs.directory(dir, 0755);
        }
        fs.directory("tmp", 01777);
        fs.charDevice("dev/console", 0600, 5, 1);
        fs.file("bin/busybox", 0755, busybox);
        // Only the interpreter /init needs; /init installs the other applet links itself.
        fs.symlink("bin/sh", "busybox");
        List<String> paths = new ArrayList<>();
        for (KernelModules.Module m : modules) {
            fs.file(m.path(), 0644, m.contents());
            paths.add("/" + m.path());
        }
        fs.file("init", 0755, initScript(paths).getBytes(StandardCharsets.UTF_8));
        return fs;
    }

    /**
     * The guest's {@code /init}, run by the kernel as PID 1 with the console as stdin, stdout and
     * stderr. Linux passes the words after {@code --} on its command line to init as arguments,
     * so those are the command to run; with none, an interactive shell. Either way the guest then
     * resets itself: with {@code reboot=k} Linux resets through the i8042, which ends the VM.
     */
    static String initScript(List<String> modulePaths) {
        StringBuilder s = new StringBuilder();
        s.append("""
                #!/bin/sh
                # /init of an actorvm guest, written by 'actorvm guest build'.
                # Arguments: the words after '--' on the kernel command line, run as a command.
                export PATH=/sbin:/bin:/usr/sbin:/usr/bin
                /bin/busybox mount -t proc proc /proc
                /bin/busybox mount -t sysfs sysfs /sys
                /bin/busybox mount -t devtmpfs devtmpfs /dev
                # Needs /proc (busybox finds itself through /proc/self/exe).
                /bin/busybox --install -s
                echo "%s"
                """.formatted(INIT_MARKER));
        if (!modulePaths.isEmpty()) {
            s.append("for m in \\\n");
            for (String p : modulePaths) s.append("    ").append(p).append(" \\\n");
            s.append("""
                    ; do
                        if [ ! -e "$m" ]; then echo "actorvm-guest: $m missing, skipped"; continue; fi
                        insmod "$m" || echo "actorvm-guest: insmod $m failed, continuing"
                    done
                    """);
        }
        s.append("""
                if [ $# -gt 0 ]; then
                    "$@"
                    echo "actorvm-guest: command exit status $?"
                else
                    echo "actorvm-guest: no command after '--' on the kernel command line: starting a shell (exit it to power off)"
                    # cttyhack opens the real console (ttyS0) so the shell gets job control and Ctrl-C.
                    if command -v cttyhack >/dev/null 2>&1; then setsid cttyhack sh; else sh; fi
                fi
                echo "actorvm-guest: powering off"
                sync
                reboot -f
                poweroff -f
                """);
        return s.toString();
    }

    /** Lets the cpio stream finish without closing the gzip stream under it. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
