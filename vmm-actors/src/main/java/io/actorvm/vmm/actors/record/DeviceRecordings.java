package io.actorvm.vmm.actors.record;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where device recordings live: beside the snapshots, {@code DIR/recordings/VM/TIME.avmdlog}, one
 * file per run of the VM (its name the UTC time the run began, so names sort by time).
 */
public final class DeviceRecordings {
    private DeviceRecordings() {}

    public static final String SUFFIX = ".avmdlog";
    private static final DateTimeFormatter NAME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

    public static Path directory(Path dataDir, String vm) {
        return dataDir.resolve("recordings").resolve(vm);
    }

    /** The file a run of {@code vm} starting now records to. */
    public static Path newFile(Path dataDir, String vm) {
        return directory(dataDir, vm).resolve(NAME.format(Instant.now()) + SUFFIX);
    }

    /** Every recording of {@code vm}, oldest first. */
    public static List<Path> list(Path dataDir, String vm) throws IOException {
        Path dir = directory(dataDir, vm);
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(SUFFIX)).sorted().toList();
        }
    }

    /** The newest recording of {@code vm}, if any. */
    public static Optional<Path> newest(Path dataDir, String vm) throws IOException {
        List<Path> all = list(dataDir, vm);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.getLast());
    }
}
