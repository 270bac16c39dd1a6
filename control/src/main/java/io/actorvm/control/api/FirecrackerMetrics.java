package io.actorvm.control.api;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * Firecracker's metrics file: each flush ({@code PUT /actions {"action_type": "FlushMetrics"}})
 * appends one JSON object on its own line, {@code utc_timestamp_ms} first, then groups of counters:
 * {@code vmm} (state), {@code vcpu} (the exit path's counters) and one group per device, named by
 * the device, with its model's counters and the actor's (failures, batches, backlog stalls). The
 * file may be a regular file or a FIFO, as Firecracker allows.
 */
final class FirecrackerMetrics {
    private FirecrackerMetrics() {
    }

    static CompletionStage<Void> flush(ActorSystem<?> system, MicroVm instance, Path file, Executor blocking) {
        if (!instance.started()) {
            return CompletableFuture.runAsync(() -> append(file, line(null, null)), blocking);
        }
        var vm = instance.vm();
        return AskPattern.<Vm.Command, Vm.Status>ask(vm, Vm.GetStatus::new, ControlApi.COMMAND_TIMEOUT, system.scheduler())
                .thenCompose(status -> AskPattern.<Vm.Command, Vm.Stats>ask(vm, Vm.GetStats::new, ControlApi.COMMAND_TIMEOUT, system.scheduler())
                        .thenApplyAsync(stats -> {
                            append(file, line(status, stats));
                            return null;
                        }, blocking));
    }

    static String line(Vm.Status status, Vm.Stats stats) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("utc_timestamp_ms", System.currentTimeMillis());
        ObjectNode vmm = o.putObject("vmm");
        vmm.put("state", status == null ? "not_started" : status.state().name().toLowerCase());
        if (stats != null) {
            ObjectNode vcpu = o.putObject("vcpu");
            stats.io().forEach(vcpu::put);
            for (DeviceActor.Metrics d : stats.devices()) {
                ObjectNode dev = o.putObject(d.device());
                d.counters().forEach(dev::put);
                dev.put("failures", d.failures());
                dev.put("coalesced_batches", d.batches());
                dev.put("coalesced_writes", d.batchedWrites());
                dev.put("backlog_stalls", d.backlogStalls());
                dev.put("backlog_stalled_us", d.backlogStalledNanos() / 1000);
            }
        }
        return o + "\n";
    }

    private static void append(Path file, String line) {
        try {
            Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics to " + file + ": " + e.getMessage(), e);
        }
    }
}
