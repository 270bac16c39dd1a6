package io.actorvm.tests;

import io.actorvm.devices.serial.SerialOutput;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Assumptions;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** A test guest running through the actor path, with its console captured. */
final class GuestRun {
    static final Path GUESTS = Path.of(System.getProperty("actorvm.guests", "guests/build"));

    /**
     * Set (to anything but 0) where every KVM test must run: CI sets it for the run inside the KVM
     * host, so that a missing KVM, hardware virtualization or tool fails the test instead of
     * skipping it.
     */
    static final boolean KVM_REQUIRED = System.getenv("ACTORVM_REQUIRE_KVM") != null
            && !System.getenv("ACTORVM_REQUIRE_KVM").equals("0");

    /** Skips the test with {@code reason} unless {@code condition} holds; fails instead where KVM tests are required. */
    static void assume(boolean condition, String reason) {
        if (!condition && KVM_REQUIRED) throw new AssertionError(reason + " (ACTORVM_REQUIRE_KVM is set: not skipped)");
        Assumptions.assumeTrue(condition, reason);
    }

    /** Skips (with the reason) where this host offers no usable KVM. */
    static void assumeKvm() {
        Path kvm = Path.of("/dev/kvm");
        assume(Files.exists(kvm), "no /dev/kvm on this host: KVM tests skipped (run them with ./actorvm kvm-host -- ...)");
        assume(Files.isReadable(kvm) && Files.isWritable(kvm), "/dev/kvm is not accessible to this user: KVM tests skipped");
    }

    /** Skips where KVM emulates guest code instead of running it (no vmx/svm): too slow for Linux to boot. */
    static void assumeHardwareVirtualization(String what) {
        assume(io.actorvm.control.cli.HostCheck.hasHardwareVirtualization(),
                "no vmx/svm in /proc/cpuinfo: this host's KVM cannot run " + what + "; skipped");
    }

    /** {@code java} with the flags actorvm needs (and ACTORVM_JVM_OPTS), running the CLI with {@code args}. */
    static java.util.List<String> cli(String... args) {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        String extra = System.getenv("ACTORVM_JVM_OPTS");
        if (extra != null && !extra.isBlank()) cmd.addAll(java.util.List.of(extra.trim().split("\\s+")));
        cmd.addAll(java.util.List.of("-cp", System.getProperty("java.class.path"), "io.actorvm.control.cli.Main"));
        cmd.addAll(java.util.List.of(args));
        return cmd;
    }

    static Path guest(String name) {
        Path p = GUESTS.resolve(name + ".elf");
        if (!Files.isRegularFile(p)) throw new IllegalStateException("test guest " + p + " is missing (make -C tests/guests)");
        return p;
    }

    /** Console that collects guest output; safe to read from the test thread. */
    static final class Capture implements SerialOutput {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void transmit(byte b) {
            bytes.write(b);
        }

        synchronized String text() {
            return bytes.toString(StandardCharsets.US_ASCII);
        }
    }

    final ActorTestKit kit;
    final Capture console = new Capture();
    final ActorRef<Vm.Command> vm;
    final TestProbe<Vm.Terminated> termination;

    GuestRun(ActorTestKit kit, String guest, String cmdline, long memory, int cpus) {
        this.kit = kit;
        VmConfig config = new VmConfig(guest, guest(guest), cmdline, memory, cpus, console);
        vm = kit.spawn(Vm.create(config));
        termination = kit.createTestProbe(Vm.Terminated.class);
        vm.tell(new Vm.WatchTermination(termination.getRef()));
    }

    StatusReply<Done> command(java.util.function.Function<ActorRef<StatusReply<Done>>, Vm.Command> make) {
        TestProbe<StatusReply<Done>> probe = kit.createTestProbe();
        vm.tell(make.apply(probe.getRef()));
        @SuppressWarnings("unchecked")
        StatusReply<Done> reply = probe.expectMessageClass(StatusReply.class, Duration.ofSeconds(60));
        return reply;
    }

    void start() {
        StatusReply<Done> r = command(Vm.Start::new);
        if (r.isError()) throw new AssertionError("VM did not start: " + r.getError().getMessage());
    }

    Vm.Terminated awaitTermination(Duration timeout) {
        return termination.expectMessageClass(Vm.Terminated.class, timeout);
    }

    Vm.Stats stats() {
        TestProbe<Vm.Stats> probe = kit.createTestProbe();
        vm.tell(new Vm.GetStats(probe.getRef()));
        return probe.expectMessageClass(Vm.Stats.class, Duration.ofSeconds(10));
    }
}
