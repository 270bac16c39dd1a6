package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a VM takes from the host it gives back, when its start fails half-way and when the
 * program embedding it goes away without stopping it: file descriptors (KVM's VM and vCPU fds,
 * eventfds), the guest memory mapping, and threads.
 */
class FailurePathsTest {
    static final long GUEST_MEMORY = 6L << 20; // a size nothing else in the JVM maps, to find its mapping

    @TempDir
    Path dir;

    /**
     * The initrd does not fit the guest's memory: found only when the kernel is loaded, after the
     * KVM VM, its irqchip, PIT and memory slots and the guest memory exist.
     */
    @Test
    void aHundredStartsFailingHalfWayGiveBackEveryFdMappingAndThread() throws Exception {
        GuestRun.assumeKvm();
        long mappingsBefore = guestMappings();
        Path initrd = Files.write(dir.resolve("big.initrd"), new byte[8 << 20]);
        ActorTestKit kit = ActorTestKit.create("failed-starts");
        try {
            for (int i = 0; i < 5; i++) failedStart(kit, initrd, i); // pools and classes the first starts bring up
            long fds = fds().size();
            java.util.Set<String> threads = threadNames();
            for (int i = 0; i < 100; i++) failedStart(kit, initrd, 100 + i);
            await().atMost(Duration.ofSeconds(30)).until(() -> fds().size() <= fds);
            java.util.Set<String> added = new java.util.TreeSet<>(threadNames());
            added.removeAll(threads);
            System.out.printf("100 failed starts: fds %d before, %d after; threads %d before, %d after, new: %s%n",
                    fds, fds().size(), threads.size(), threadNames().size(), added);
            assertEquals(fds, fds().size(), "fds before and after: " + fds());
            assertEquals(0, kvmFds(), "no KVM VM or vCPU fd is left");
            assertEquals(mappingsBefore, guestMappings(), "no guest memory mapping is left");
            assertEquals(List.of(), vmThreads(), "no vCPU, poller or tap thread is left");
            // The actor system's pools grow on demand and keep idle threads a while (printed above,
            // for the record); no thread of a VM stays.
        } finally {
            kit.shutdownTestKit();
        }
    }

    private void failedStart(ActorTestKit kit, Path initrd, int n) {
        GuestRun run = new GuestRun(kit, new VmConfig("fail-" + n, GuestRun.guest("hello"), "", GUEST_MEMORY, 2).withInitrd(initrd));
        StatusReply<Done> reply = run.command(Vm.Start::new);
        assertTrue(reply.isError(), "start " + n + " must fail");
        assertTrue(reply.getError().getMessage().contains("does not fit"), reply.getError().getMessage());
        run.awaitTermination(Duration.ofSeconds(30));
        kit.stop(run.vm);
    }

    /** The embedding program's actor system terminates under a running guest, without Vm.Stop. */
    @Test
    void anActorSystemGoingAwayUnderARunningGuestLeavesNoVcpuThreadOrKvmFd() throws Exception {
        GuestRun.assumeKvm();
        long fdsBefore = fds().size(), mappingsBefore = guestMappings();
        ActorTestKit kit = ActorTestKit.create("abandoned");
        GuestRun run = new GuestRun(kit, new VmConfig("abandoned", GuestRun.guest("counter"), "every=20000", GUEST_MEMORY, 2));
        run.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().contains("count "));
        assertTrue(vmThreads().stream().anyMatch(t -> t.startsWith("vcpu-")), "the guest runs on vCPU threads: " + vmThreads());
        assertTrue(kvmFds() > 0);

        kit.shutdownTestKit(); // no Stop: the actor tree just goes away

        await().atMost(Duration.ofSeconds(30)).until(() -> vmThreads().isEmpty());
        await().atMost(Duration.ofSeconds(30)).until(() -> kvmFds() == 0 && guestMappings() == mappingsBefore);
        System.out.printf("abandoned VM: fds %d before the actor system, %d after it went away%n", fdsBefore, fds().size());
    }

    static List<String> fds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(p -> {
                try {
                    return Files.readSymbolicLink(p).toString();
                } catch (IOException gone) {
                    return "";
                }
            }).filter(t -> !t.isEmpty()).toList();
        }
    }

    /** KVM's own fds: /dev/kvm, VMs, vCPUs. */
    static long kvmFds() throws IOException {
        return fds().stream().filter(t -> t.equals("/dev/kvm") || t.startsWith("anon_inode:kvm")).count();
    }

    /**
     * Mappings exactly the size of the guest's memory. Counted against the number before the test:
     * after the whole module has run, the JVM can hold an unrelated mapping of that size (seen once
     * the module grew: no KVM fd was left, yet one such mapping stayed from before the test).
     */
    static long guestMappings() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> {
            String[] range = l.substring(0, l.indexOf(' ')).split("-");
            return Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16) == GUEST_MEMORY;
        }).count();
    }

    static java.util.Set<String> threadNames() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .collect(java.util.stream.Collectors.toSet());
    }

    /** Threads a VM starts: vCPUs, the virtio notification poller, tap readers. */
    static List<String> vmThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("vcpu-") || n.startsWith("virtio-notify-") || n.startsWith("tap-")).sorted().toList();
    }
}
