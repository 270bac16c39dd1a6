package io.actorvm.control.cli;

import io.actorvm.vmm.actors.record.DeviceRecordings;
import io.actorvm.vmm.actors.record.DeviceReplay;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code replay-devices}: a recording made with {@code --record}, fed to freshly built device
 * models without KVM; exits 0 when every step matched, 1 at the first divergence (named).
 */
@Command(name = "replay-devices", mixinStandardHelpOptions = true,
        description = "Replay a VM's recorded device traffic (run/restore --record) against fresh device models, without KVM, "
                + "and check every read, every host call and every device's final state")
public final class ReplayDevicesCommand implements Callable<Integer> {
    static final int DIVERGED = 1;

    @Option(names = "--data-dir", required = true, paramLabel = "DIR") Path dataDir;
    @Option(names = "--name", defaultValue = "vm", paramLabel = "VM", description = "whose recording (default ${DEFAULT-VALUE})") String name;
    @Option(names = "--recording", paramLabel = "FILE", description = "this recording; default: the VM's newest") Path recording;
    @Option(names = "--from", paramLabel = "SNAPSHOT",
            description = "start where this snapshot, taken during the recorded run, has the devices (default: the recording's start)")
    String from;

    @Override
    public Integer call() {
        Path file = recording;
        try {
            if (file == null) {
                file = DeviceRecordings.newest(dataDir, name).orElse(null);
                if (file == null) {
                    System.err.println("actorvm: VM '" + name + "' has no recording in " + DeviceRecordings.directory(dataDir, name)
                            + " (run it with --record)");
                    return Main.USAGE_ERROR;
                }
            }
            long started = System.nanoTime();
            DeviceReplay.Result result = DeviceReplay.run(file, from, Map.of());
            long ms = (System.nanoTime() - started) / 1_000_000;
            if (!result.matched()) {
                System.out.println("replay-devices: " + file + " diverged at " + result.divergence());
                return DIVERGED;
            }
            System.out.println("replay-devices: " + file + ": " + (result.steps() - result.skipped()) + " steps of VM '" + result.vm()
                    + "' replayed without KVM" + (from == null ? "" : " from snapshot " + from + " (" + result.skipped() + " earlier steps skipped)")
                    + " in " + ms + " ms, no divergence (" + result.statesChecked() + " device states checked)");
            for (Map.Entry<String, Long> d : result.stepsByDevice().entrySet()) {
                System.out.println("  " + d.getKey() + ": " + d.getValue() + " steps");
            }
            return 0;
        } catch (IOException e) {
            System.err.println("actorvm: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return Main.USAGE_ERROR;
        }
    }
}
