package io.actorvm.control.cli;

import io.actorvm.devices.HostSources;
import io.actorvm.vmm.actors.record.DeviceRecordings;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --record} on {@code run} and {@code restore}: the VM's device traffic, for {@code replay-devices}. */
final class RecordOption {
    @Option(names = "--record", description = "record every call into the device models (accesses, requests, host inputs) "
            + "to DIR/recordings/NAME/ for replay-devices; needs --data-dir")
    boolean record;

    /** The host's sources, recording when asked; IllegalArgumentException (one line) without a data directory. */
    HostSources sources(Path dataDir, String vm) {
        if (!record) return HostSources.system();
        if (dataDir == null) throw new IllegalArgumentException("--record needs --data-dir (the recording goes beside the snapshots)");
        return HostSources.system().recordingTo(DeviceRecordings.newFile(dataDir, vm));
    }
}
