package io.actorvm.control.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.actorvm.control.api.ApiEndpoint;
import io.actorvm.vmm.actors.DiskConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code actorvm vm ...}: the client of a {@code serve} process's API, one VM by name per command.
 * Each command is a few requests a script could send with curl; a refusal prints the API's
 * {@code fault_message} and exits 1, an unreachable API exits 2.
 */
@Command(name = "vm", mixinStandardHelpOptions = true, description = "Manage the VMs of an 'actorvm serve' process through its API socket.",
        subcommands = {VmCommand.Create.class, VmCommand.Start.class, VmCommand.Stop.class, VmCommand.Pause.class, VmCommand.Resume.class,
                VmCommand.Delete.class, VmCommand.Migrate.class, VmCommand.ListVms.class, VmCommand.Status.class, VmCommand.ConsoleTail.class})
final class VmCommand implements Runnable {
    static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** A refusal by the API: its message, exit status 1. */
    static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    /** What every subcommand shares: where the API is, and one request at a time. */
    abstract static class Client implements Callable<Integer> {
        @Mixin
        ApiOptions api;
        @Option(names = "--cluster", paramLabel = "HOST:PORT",
                description = "a cluster node's API (a node started with --api tcp:HOST:PORT): the same as --api tcp:HOST:PORT")
        String cluster;
        private ApiClient client;
        private ApiEndpoint endpoint;

        abstract void execute() throws IOException, InterruptedException, Refused;

        @Override
        public final Integer call() throws Exception {
            try {
                if (cluster != null && (api.socket != null || api.tcp != null)) {
                    throw new IllegalArgumentException("give --cluster, --api-sock or --api, one of them");
                }
                endpoint = cluster != null ? io.actorvm.control.api.ApiEndpoint.tcp("tcp:" + cluster, api.allowRemote, api.token()) : api.endpoint();
                if (endpoint == null) {
                    throw new IllegalArgumentException("say where the API is: --api-sock PATH, --api tcp:HOST:PORT or --cluster HOST:PORT");
                }
                client = new ApiClient(endpoint, api.token());
            } catch (IllegalArgumentException e) {
                System.err.println("actorvm: " + e.getMessage());
                return Main.USAGE_ERROR;
            }
            try {
                execute();
                return 0;
            } catch (Refused e) {
                System.err.println("actorvm: " + e.getMessage());
                return 1;
            } catch (IOException e) {
                System.err.println("actorvm: cannot reach the API at " + endpoint + ": " + (e.getMessage() == null ? e : e.getMessage()));
                return Main.USAGE_ERROR;
            }
        }

        /** Sends a request; a status outside 2xx is a {@link Refused} with the API's message. */
        JsonNode send(String method, String target, Object body) throws IOException, InterruptedException, Refused {
            ApiClient.Response r = client.send(method, target, body == null ? null : JSON.writeValueAsString(body));
            JsonNode json = r.body().isBlank() ? JSON.nullNode() : parse(r.body());
            if (r.status() / 100 != 2) throw new Refused(json.path("fault_message").asText("HTTP " + r.status()));
            return json;
        }

        static String path(String name) {
            return "/vms/" + URLEncoder.encode(name, StandardCharsets.UTF_8);
        }

        private static JsonNode parse(String body) throws IOException {
            try {
                return JSON.readTree(body);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IOException("the API answered something that is not JSON: " + body.lines().findFirst().orElse(""));
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a VM by name, configure it and (unless --no-start) start it.")
    static final class Create extends Client {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--kernel", required = true, paramLabel = "FILE") Path kernel;
        @Option(names = "--initrd", paramLabel = "FILE") Path initrd;
        @Option(names = "--cmdline", paramLabel = "S") String cmdline;
        @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "128M", description = "guest RAM (default ${DEFAULT-VALUE})") String memory;
        @Option(names = "--cpus", paramLabel = "N", defaultValue = "1") int cpus;
        @Option(names = "--disk", paramLabel = "PATH[,ro]", description = "a raw disk image (repeatable; the first is the root device)")
        List<String> disks = new ArrayList<>();
        @Option(names = "--net", paramLabel = "tap=NAME|switch=NAME[,mac=M]",
                description = "a virtio-net device on a host tap device or an in-JVM switch (in a cluster the switch spans the nodes); repeatable")
        List<String> nets = new ArrayList<>();
        @Option(names = "--rng", description = "a virtio-rng device") boolean rng;
        @Option(names = "--no-start", description = "configure only; start later with 'vm start'") boolean noStart;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            long bytes;
            List<DiskConfig> parsed;
            List<io.actorvm.vmm.actors.NetConfig> parsedNets;
            try {
                bytes = SizeParser.parse(memory);
                parsed = disks.stream().map(DiskConfig::parse).toList();
                parsedNets = nets.stream().map(io.actorvm.vmm.actors.NetConfig::parse).toList();
                if (parsedNets.contains(null)) throw new IllegalArgumentException("--net none: leave --net out for a VM without network");
            } catch (IllegalArgumentException e) {
                throw new Refused(e.getMessage());
            }
            if (bytes % (1 << 20) != 0) throw new Refused("--memory must be a whole number of MiB through the API, not " + memory);
            send("POST", "/vms", java.util.Map.of("name", name));
            String vm = path(name);
            ObjectNode boot = JSON.createObjectNode().put("kernel_image_path", kernel.toAbsolutePath().toString());
            if (initrd != null) boot.put("initrd_path", initrd.toAbsolutePath().toString());
            if (cmdline != null) boot.put("boot_args", cmdline);
            send("PUT", vm + "/boot-source", boot);
            send("PUT", vm + "/machine-config", JSON.createObjectNode().put("vcpu_count", cpus).put("mem_size_mib", bytes >> 20));
            for (int i = 0; i < parsed.size(); i++) {
                send("PUT", vm + "/drives/disk" + i, JSON.createObjectNode().put("drive_id", "disk" + i)
                        .put("path_on_host", parsed.get(i).path().toAbsolutePath().toString()).put("is_root_device", i == 0)
                        .put("is_read_only", parsed.get(i).readOnly()));
            }
            for (int i = 0; i < parsedNets.size(); i++) {
                var n = parsedNets.get(i);
                ObjectNode iface = JSON.createObjectNode().put("iface_id", "eth" + i)
                        .put(n.kind() == io.actorvm.vmm.actors.NetConfig.Kind.TAP ? "host_dev_name" : "switch", n.name());
                if (n.mac() != null) iface.put("guest_mac", io.actorvm.vmm.actors.NetConfig.formatMac(n.mac()));
                send("PUT", vm + "/network-interfaces/eth" + i, iface);
            }
            if (rng) send("PUT", vm + "/entropy", JSON.createObjectNode());
            if (!noStart) send("PUT", vm + "/actions", JSON.createObjectNode().put("action_type", "InstanceStart"));
            System.out.println(name + (noStart ? " created" : " started"));
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start a configured VM.")
    static final class Start extends Client {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            send("PUT", path(name) + "/actions", JSON.createObjectNode().put("action_type", "InstanceStart"));
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop a VM (it stays defined; 'delete' also forgets it).")
    static final class Stop extends Client {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            send("PUT", path(name) + "/vm/stop", null);
        }
    }

    @Command(name = "migrate", mixinStandardHelpOptions = true,
            description = "Move a running VM to another node of the cluster and wait until it runs there.")
    static final class Migrate extends Client {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--to", required = true, paramLabel = "HOST:PORT", description = "the node (its cluster address, as vm list shows it)") String to;
        @Option(names = "--wait", defaultValue = "300", paramLabel = "SECONDS", description = "give up waiting after this long (default ${DEFAULT-VALUE})") int wait;
        @Option(names = "--downtime", defaultValue = "50", paramLabel = "MS",
                description = "pause the guest for the last round once what is left takes no longer than this to send (default ${DEFAULT-VALUE})") long downtime;
        @Option(names = "--max-rounds", defaultValue = "30", paramLabel = "N",
                description = "pause for the last round after this many rounds anyway (default ${DEFAULT-VALUE})") int maxRounds;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            long t0 = System.nanoTime(), deadline = t0 + wait * 1_000_000_000L;
            send("PUT", path(name) + "/migrate", JSON.createObjectNode().put("to", to).put("downtime_ms", downtime).put("max_rounds", maxRounds));
            String shown = "";
            while (System.nanoTime() < deadline) {
                // This VM alone (a node before 2026-12-05 ignores the filter and lists them all).
                for (JsonNode vm : send("GET", "/vms?name=" + name, null)) {
                    if (!vm.path("name").asText().equals(name)) continue;
                    if (vm.path("node").asText().equals(to) && vm.path("state").asText().equals("running")) {
                        System.out.printf("%s runs on %s (%.1f s)%n", name, to, (System.nanoTime() - t0) / 1e9);
                        return;
                    }
                    // A live migration's rounds, as the source reports them.
                    String progress = vm.path("migration").asText("");
                    if (!progress.isEmpty() && !progress.equals(shown)) {
                        System.out.println(progressBar(progress, vm.path("mem_mib").asLong(0)) + " " + progress);
                        shown = progress;
                    }
                    if (progress.startsWith("failed")) throw new Refused(name + " stays on its node: the migration " + progress);
                }
                Thread.sleep(250);
            }
            throw new Refused(name + " was not running on " + to + " after " + wait + " s");
        }
    }

    /** "[#####     ]": the MiB sent ("N MiB sent" in {@code progress}) against the guest's RAM. */
    static String progressBar(String progress, long memMib) {
        var sent = java.util.regex.Pattern.compile("(\\d+) MiB sent").matcher(progress);
        long mib = sent.find() ? Long.parseLong(sent.group(1)) : 0;
        int width = 20, filled = memMib <= 0 ? 0 : (int) Math.min(width, mib * width / memMib);
        return "[" + "#".repeat(filled) + " ".repeat(width - filled) + "]";
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, description = "Pause a VM's vCPUs.")
    static final class Pause extends Client {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            send("PATCH", path(name) + "/vm", JSON.createObjectNode().put("state", "Paused"));
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Resume a paused VM.")
    static final class Resume extends Client {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            send("PATCH", path(name) + "/vm", JSON.createObjectNode().put("state", "Resumed"));
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Stop a VM (if it runs) and remove it.")
    static final class Delete extends Client {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            send("DELETE", path(name), null);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Every VM with its state.")
    static final class ListVms extends Client {
        @Override
        void execute() throws IOException, InterruptedException, Refused {
            for (JsonNode vm : send("GET", "/vms", null)) {
                // A cluster node also says where each VM lives.
                System.out.println(vm.path("name").asText() + "\t" + vm.path("state").asText()
                        + (vm.has("node") ? "\t" + vm.path("node").asText() : ""));
            }
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "A VM's state and configuration.")
    static final class Status extends Client {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            JsonNode info = send("GET", path(name) + "/", null);
            JsonNode machine = send("GET", path(name) + "/machine-config", null);
            System.out.println(name + ": " + info.path("state").asText() + ", " + machine.path("vcpu_count").asInt() + " vCPU(s), "
                    + machine.path("mem_size_mib").asInt() + " MiB");
        }
    }

    @Command(name = "console", mixinStandardHelpOptions = true, description = "Print a VM's console output (the last 64 KiB); --follow keeps printing.")
    static final class ConsoleTail extends Client {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--follow", description = "keep printing new output until the VM is gone (Ctrl-C to stop)") boolean follow;

        @Override
        void execute() throws IOException, InterruptedException, Refused {
            long since = 0;
            do {
                JsonNode read = send("GET", path(name) + "/console?since=" + since, null);
                System.out.print(read.path("text").asText());
                System.out.flush();
                since = read.path("total").asLong();
                if (follow) Thread.sleep(200);
            } while (follow);
        }
    }
}
