package io.actorvm.control.api;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.device.DeviceActor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A VM's status and statistics in Prometheus' text exposition format (version 0.0.4), for
 * {@code GET /metrics}. Every sample carries the VM's name as {@code vm}; device samples also the
 * device's name as {@code device}. The exit and I/O counters are counters ({@code _total}); a
 * device model's own metrics are {@code untyped}, since a model may report a level (a flag, a
 * ring's depth) beside its counts.
 */
final class PrometheusText {
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    /** Counters of {@code Vm.Stats.io()} that are levels, not counts. */
    private static final java.util.Set<String> IO_GAUGES = java.util.Set.of("largest_coalesced_batch");

    private record Family(String type, String help, List<String> samples) {}

    private final Map<String, Family> families = new LinkedHashMap<>();

    private PrometheusText() {}

    static String render(Vm.Status status, Vm.Stats stats) {
        PrometheusText t = new PrometheusText();
        String vm = "vm=\"" + escape(status.name()) + "\"";
        for (Vm.State s : Vm.State.values()) {
            t.add("actorvm_vm_state", "gauge", "1 for the state the VM is in",
                    "{" + vm + ",state=\"" + s.name().toLowerCase() + "\"}", s == status.state() ? 1 : 0);
        }
        stats.io().forEach((name, value) -> {
            if (IO_GAUGES.contains(name)) t.add("actorvm_io_" + name, "gauge", "exit path: " + name.replace('_', ' '), "{" + vm + "}", value);
            else t.add("actorvm_io_" + name + "_total", "counter", "exit path: " + name.replace('_', ' '), "{" + vm + "}", value);
        });
        Vm.Lifecycle l = stats.lifecycle();
        String just = "{" + vm + "}";
        t.add("actorvm_snapshots_total", "counter", "snapshots taken", just, l.snapshots());
        t.add("actorvm_snapshot_failures_total", "counter", "snapshots that failed", just, l.snapshotFailures());
        t.add("actorvm_snapshot_seconds_total", "counter", "time spent taking snapshots", just, l.snapshotNanos() / 1e9);
        t.add("actorvm_last_snapshot_seconds", "gauge", "how long the last snapshot took", just, l.lastSnapshotNanos() / 1e9);
        if (l.restoreNanos() >= 0) t.add("actorvm_restore_seconds", "gauge", "from the start of the restore to the guest running", just, l.restoreNanos() / 1e9);
        for (DeviceActor.Metrics d : stats.devices()) {
            String labels = "{" + vm + ",device=\"" + escape(d.device()) + "\"}";
            t.add("actorvm_device_failures_total", "counter", "device model failures (each restarted with its state kept)", labels, d.failures());
            t.add("actorvm_device_coalesced_batches_total", "counter", "batches of coalesced writes delivered", labels, d.batches());
            t.add("actorvm_device_coalesced_writes_total", "counter", "writes delivered in coalesced batches", labels, d.batchedWrites());
            t.add("actorvm_device_backlog_stalls_total", "counter", "times a vCPU found the device's backlog full and waited", labels, d.backlogStalls());
            t.add("actorvm_device_backlog_stalled_seconds_total", "counter", "time vCPUs waited for the device's backlog",
                    labels, d.backlogStalledNanos() / 1e9);
            t.add("actorvm_device_backlog_depth", "gauge", "guest accesses waiting in the device's backlog now", labels, d.backlogDepth());
            d.counters().forEach((name, value) -> t.add("actorvm_device_" + sanitize(name), "untyped", "device model metric " + name, labels, value));
        }
        return t.text();
    }

    private void add(String family, String type, String help, String labels, Number value) {
        families.computeIfAbsent(family, f -> new Family(type, help, new ArrayList<>()))
                .samples().add(family + labels + " " + value);
    }

    private String text() {
        StringBuilder out = new StringBuilder();
        families.forEach((name, f) -> {
            out.append("# HELP ").append(name).append(' ').append(f.help().replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
            out.append("# TYPE ").append(name).append(' ').append(f.type()).append('\n');
            f.samples().forEach(s -> out.append(s).append('\n'));
        });
        return out.toString();
    }

    /** A label value as the format wants it: backslash, double quote and line feed escaped. */
    static String escape(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** A metric name part: anything outside [a-zA-Z0-9_] becomes an underscore. */
    static String sanitize(String name) {
        return name.replaceAll("[^a-zA-Z0-9_]", "_");
    }
}
