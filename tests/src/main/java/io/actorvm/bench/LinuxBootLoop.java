package io.actorvm.bench;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.images.GuestImage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Boots the Debian guest N times per kernel format in one warm JVM, one VM after the other, and
 * counts the boots that reached {@code /init}, ran the command and reset cleanly (exit status 0,
 * no error). Prints each failure with its reason and the console's last lines, then the time from
 * {@code Vm.Start} to the guest's /init marker (min, median, max) per format. Exit status 1 if any
 * boot failed.
 *
 * <p>Usage: {@code LinuxBootLoop [N] [CPUS]}; on a machine without /dev/kvm run it through
 * {@code ./actorvm kvm-host} (bench/linux-boot-loop.sh does).
 */
public final class LinuxBootLoop {
    private LinuxBootLoop() {}

    public static void main(String[] args) throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int cpus = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        GuestImage guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), l -> { });
        String cmdline = GuestImage.CMDLINE + " quiet -- /bin/busybox sh -c \"echo boot-loop-ok cpus=$(nproc)\"";
        var conf = ConfigFactory.parseString("pekko.loglevel = WARNING\npekko.log-dead-letters = off").withFallback(ConfigFactory.load());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "boot-loop", conf);
        int failures = 0;
        try {
            for (Path kernel : List.of(guest.vmlinux(), guest.vmlinuz())) {
                List<Double> toInit = new ArrayList<>();
                int ok = 0;
                for (int i = 0; i < n; i++) {
                    ByteArrayOutputStream console = new ByteArrayOutputStream();
                    CompletableFuture<Long> init = new CompletableFuture<>();
                    String marker = "actorvm-guest: init started";
                    VmConfig config = new VmConfig("loop-" + i, kernel, cmdline, 256L << 20, cpus).withInitrd(guest.initramfs());
                    ActorRef<Vm.Command> vm = system.systemActorOf(Vm.create(config), "vm-" + kernel.getFileName() + "-" + i,
                            org.apache.pekko.actor.typed.Props.empty());
                    vm.tell(new Vm.AttachConsole(system.systemActorOf(ConsoleHub.subscriber(bytes -> {
                        synchronized (console) {
                            console.writeBytes(bytes);
                            if (!init.isDone() && console.toString(StandardCharsets.US_ASCII).contains(marker)) {
                                init.complete(System.nanoTime());
                            }
                        }
                    }), "console-" + kernel.getFileName() + "-" + i, org.apache.pekko.actor.typed.Props.empty())));
                    var ended = AskPattern.<Vm.Command, Vm.Terminated>ask(vm, Vm.WatchTermination::new, Duration.ofMinutes(10), system.scheduler());
                    long t0 = System.nanoTime();
                    StatusReply<Done> started = AskPattern.<Vm.Command, StatusReply<Done>>ask(vm, Vm.Start::new, Duration.ofMinutes(2),
                            system.scheduler()).toCompletableFuture().get();
                    Vm.Terminated t = started.isError() ? new Vm.Terminated(started.getError().getMessage(), 1, true)
                            : ended.toCompletableFuture().get(10, TimeUnit.MINUTES);
                    String text;
                    synchronized (console) {
                        text = console.toString(StandardCharsets.US_ASCII);
                    }
                    boolean good = !t.error() && t.exitStatus() == 0 && text.contains("boot-loop-ok cpus=" + cpus) && init.isDone();
                    if (good) {
                        ok++;
                        toInit.add((init.get() - t0) / 1e6);
                    } else {
                        failures++;
                        List<String> lines = text.lines().toList();
                        System.out.printf("%s boot %d FAILED: %s; console's last lines:%n  %s%n", kernel.getFileName(), i + 1, t.reason(),
                                String.join("\n  ", lines.subList(Math.max(0, lines.size() - 8), lines.size())));
                    }
                    System.out.flush();
                }
                Collections.sort(toInit);
                System.out.printf("%s, %d vCPU(s): %d of %d boots passed; Vm.Start to /init: min %.0f ms, median %.0f ms, max %.0f ms%n",
                        kernel.getFileName(), cpus, ok, n, toInit.isEmpty() ? 0 : toInit.getFirst(),
                        toInit.isEmpty() ? 0 : toInit.get(toInit.size() / 2), toInit.isEmpty() ? 0 : toInit.getLast());
            }
        } finally {
            system.terminate();
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
