package io.actorvm.vmm.actors;

import java.nio.file.Path;
import java.util.Objects;

/** A raw disk image for a virtio-blk device; {@code readOnly} as {@code --disk PATH,ro}. */
public record DiskConfig(Path path, boolean readOnly) {
    public DiskConfig {
        Objects.requireNonNull(path, "path");
    }

    /** Parses {@code PATH[,ro]} (also {@code ,rw}); anything else after the comma is a one-line error. */
    public static DiskConfig parse(String spec) {
        int comma = spec.lastIndexOf(',');
        if (comma < 0) return new DiskConfig(Path.of(spec), false);
        String option = spec.substring(comma + 1);
        return switch (option) {
            case "ro" -> new DiskConfig(Path.of(spec.substring(0, comma)), true);
            case "rw" -> new DiskConfig(Path.of(spec.substring(0, comma)), false);
            default -> throw new IllegalArgumentException("bad disk option '" + option + "' in '" + spec + "' (use PATH or PATH,ro)");
        };
    }
}
