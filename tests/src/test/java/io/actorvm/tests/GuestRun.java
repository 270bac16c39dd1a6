package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Assumptions;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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

    /**
     * {@code java} with the flags actorvm needs (and ACTORVM_JVM_OPTS), running the CLI with {@code args}:
     * as the launcher runs it ({@link #LAUNCHER_RUNTIME}) when that is built from the code under
     * test, else from this JVM's class path.
     */
    static java.util.List<String> cli(String... args) {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        String extra = System.getenv("ACTORVM_JVM_OPTS");
        if (extra != null && !extra.isBlank()) cmd.addAll(java.util.List.of(extra.trim().split("\\s+")));
        cmd.addAll(LAUNCHER_RUNTIME != null ? LAUNCHER_RUNTIME : java.util.List.of("-cp", System.getProperty("java.class.path")));
        cmd.add("io.actorvm.control.cli.Main");
        cmd.addAll(java.util.List.of(args));
        return cmd;
    }

    /** A jar of one of our modules, named by its artifact id (declared before {@link #LAUNCHER_RUNTIME}, which uses it as the class initializes). */
    private static final java.util.regex.Pattern MODULE_JAR = java.util.regex.Pattern.compile("([a-z-]+)-0\\.1\\.0-SNAPSHOT\\.jar");

    /**
     * The launcher's jars and its start-up (AOT) cache, as JVM options, or null when they are
     * missing, the cache is older than the jars, or a module's compiled classes are newer than its
     * jar (the jar is not the code under test). With the cache a process starts in about half the
     * time, which matters most in the emulated KVM host: a node JVM's start to its API took 65-98 s
     * there without it, 37-48 s with it. A cache that does not fit these jars is ignored by the JVM.
     */
    static final java.util.List<String> LAUNCHER_RUNTIME = launcherRuntime(GUESTS.toAbsolutePath().getParent().getParent().getParent());

    private static java.util.List<String> launcherRuntime(Path home) {
        Path target = home.resolve("control/target"), jar = target.resolve("control-0.1.0-SNAPSHOT.jar");
        Path classpath = target.resolve("classpath.txt"), aot = target.resolve("actorvm.aot");
        try {
            if (!Files.isRegularFile(jar) || !Files.isRegularFile(classpath) || !Files.isRegularFile(aot)
                    || Files.getLastModifiedTime(aot).compareTo(Files.getLastModifiedTime(jar)) < 0) return null;
            String path = jar + ":" + Files.readString(classpath).strip();
            for (String entry : path.split(":")) {
                java.util.regex.Matcher m = MODULE_JAR.matcher(Path.of(entry).getFileName().toString());
                if (m.matches() && newerThan(home.resolve(m.group(1)).resolve("target/classes"), Files.getLastModifiedTime(Path.of(entry)).toMillis())) return null;
            }
            return java.util.List.of("-XX:AOTCache=" + aot, "-Xlog:aot=off", "-Xlog:cds=off", "-cp", path);
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** Whether a file under {@code dir} (when it exists) was modified after {@code millis}. */
    private static boolean newerThan(Path dir, long millis) throws java.io.IOException {
        if (!Files.isDirectory(dir)) return false;
        try (var files = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.getLastModifiedTime(f).toMillis() > millis) return true;
            }
        }
        return false;
    }

    static Path guest(String name) {
        Path p = GUESTS.resolve(name + ".elf");
        if (!Files.isRegularFile(p)) throw new IllegalStateException("test guest " + p + " is missing (make -C tests/guests)");
        return p;
    }

    /**
     * A VM's console output and its end, received by one actor: the VM sends its end after its
     * last output, so once the end is here the whole output is. Readable from the test thread.
     */
    static final class Capture {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final CompletableFuture<Vm.Terminated> ended = new CompletableFuture<>();

        /** Attaches a new capture to {@code vm}'s console and end; call before {@link Vm.Start}, or output is missed. */
        static Capture attach(ActorTestKit kit, ActorRef<Vm.Command> vm) {
            Capture c = new Capture();
            ActorRef<Object> ref = kit.spawn(Behaviors.receive(Object.class)
                    .onMessage(ConsoleOutput.class, o -> {
                        c.append(o.bytes());
                        return Behaviors.same();
                    })
                    .onMessage(Vm.Terminated.class, t -> {
                        c.ended.complete(t);
                        return Behaviors.same();
                    })
                    .build());
            vm.tell(new Vm.AttachConsole(ref.narrow()));
            vm.tell(new Vm.WatchTermination(ref.narrow()));
            return c;
        }

        private synchronized void append(byte[] chunk) {
            bytes.writeBytes(chunk);
        }

        synchronized String text() {
            return bytes.toString(StandardCharsets.US_ASCII);
        }

        /** How the VM ended; an AssertionError (with the console so far) if it did not within {@code timeout}. */
        Vm.Terminated awaitEnd(Duration timeout) {
            try {
                return ended.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the VM did not end within " + timeout + "; console:\n" + text());
            } catch (InterruptedException | ExecutionException e) {
                throw new AssertionError(e);
            }
        }
    }

    final ActorTestKit kit;
    final ActorRef<Vm.Command> vm;
    final Capture console;

    GuestRun(ActorTestKit kit, String guest, String cmdline, long memory, int cpus) {
        this(kit, new VmConfig(guest, guest(guest), cmdline, memory, cpus));
    }

    /** A VM of {@code config} spawned in {@code kit}, its console captured from the start. */
    GuestRun(ActorTestKit kit, VmConfig config) {
        this(kit, config, io.actorvm.devices.HostSources.system());
    }

    /** As above, with these host sources (a fixed clock, a device recording). */
    GuestRun(ActorTestKit kit, VmConfig config, io.actorvm.devices.HostSources sources) {
        this.kit = kit;
        vm = kit.spawn(Vm.create(config, sources));
        console = Capture.attach(kit, vm);
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
        return console.awaitEnd(timeout);
    }

    Vm.Stats stats() {
        TestProbe<Vm.Stats> probe = kit.createTestProbe();
        vm.tell(new Vm.GetStats(probe.getRef()));
        return probe.expectMessageClass(Vm.Stats.class, Duration.ofSeconds(10));
    }
}
