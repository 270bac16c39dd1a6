package io.actorvm.control.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.actorvm.control.api.ApiEndpoint;
import io.actorvm.mmu.GuestAddress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/**
 * {@code actorvm step --api-sock PATH [--cpu N] [--count N] [--until ADDR]}: single-steps a vCPU of
 * a paused VM (a {@code replay}, or any VM paused through its API) without gdb, through the API's
 * {@code PUT /debug/step}, and prints where it stopped. {@code --until} runs to an address (a
 * breakpoint found by stepping).
 */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = "Single-step a vCPU of a paused VM (run, restore or replay with --api-sock): --count instructions, "
                + "or until rip reaches --until ADDR; the VM stays paused. Prints the steps taken and rip.")
final class StepCommand implements Callable<Integer> {
    @Mixin
    ApiOptions api;

    @Option(names = "--cpu", paramLabel = "N", defaultValue = "0", description = "the vCPU (default ${DEFAULT-VALUE})")
    int cpu;

    @Option(names = "--count", paramLabel = "N", description = "instructions to step (default 1; with --until, as many as it takes, up to 10^7)")
    Long count;

    @Option(names = "--until", paramLabel = "ADDR", description = "stop when rip reaches ADDR (e.g. 0x100040)")
    String until;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "50", description = "give up after this long, paused (default ${DEFAULT-VALUE}, at most 300)")
    int timeoutSeconds;

    @Override
    public Integer call() {
        ApiEndpoint endpoint;
        try {
            endpoint = api.endpoint();
            if (endpoint == null) throw new IllegalArgumentException("say where the VM's API is: --api-sock PATH or --api tcp:HOST:PORT");
            if (until != null) GuestAddress.parse(until);
            if (timeoutSeconds < 1 || timeoutSeconds > 300) throw new IllegalArgumentException("--timeout must be between 1 and 300 seconds");
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        return LiveVm.with(endpoint, api.token(), vm -> {
            JsonNode r = vm.step(cpu, count, until, timeoutSeconds * 1000L);
            String ended = r.path("ended").asText();
            System.out.println("vcpu " + r.path("vcpu").asInt() + ": " + r.path("steps").asLong() + " steps, rip=" + r.path("rip").asText()
                    + switch (ended) {
                        case "reached" -> " (reached " + until + ")";
                        case "timeout" -> " (timed out before " + (until != null ? "reaching " + until : "the count") + ")";
                        default -> "";
                    });
            return ended.equals("timeout") ? 1 : 0;
        });
    }
}
