package io.actorvm.tests;

import io.actorvm.vmm.Vm;
import io.actorvm.vmm.VmConfig;
import io.actorvm.vmm.cli.HostCheck;
import io.actorvm.vmm.image.GuestImage;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Debian kernel with our initramfs (built from Debian packages by {@code guest build}).
 * Early boot runs everywhere: on our emulating hosts Linux cannot finish booting (the emulator
 * lacks cmpxchg16b, as it does under QEMU), so the test checks the first boot messages: banner,
 * our command line, our e820 map, KVM detected, ACPI tables found, and the furthest line QEMU
 * reaches on the same host. Full boot to a shell needs hardware virtualization and skips elsewhere.
 */
class LinuxBootTest {
    static ActorTestKit kit;
    static GuestImage guest;

    @BeforeAll
    static void setUp() {
        GuestRun.assumeKvm();
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/apt-get")),
                "no apt-get on this host: cannot assemble the Debian guest, Linux boot tests skipped");
        guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.out.println("guest build: " + line));
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void tearDown() {
        if (kit != null) kit.shutdownTestKit();
    }

    private GuestRun.Capture boot(Path kernel, String cmdline, int cpus, List<String> expected, Duration within) {
        GuestRun.Capture console = new GuestRun.Capture();
        VmConfig config = new VmConfig("linux", kernel, cmdline, 256L << 20, cpus, console).withInitrd(guest.initramfs());
        ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
        TestProbe<org.apache.pekko.pattern.StatusReply<org.apache.pekko.Done>> reply = kit.createTestProbe();
        vm.tell(new Vm.Start(reply.getRef()));
        assertTrue(reply.expectMessageClass(org.apache.pekko.pattern.StatusReply.class, Duration.ofSeconds(60)).isSuccess());
        try {
            await().atMost(within).pollInterval(Duration.ofMillis(500))
                    .until(() -> expected.stream().allMatch(console.text()::contains));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("missing " + expected.stream().filter(s -> !console.text().contains(s)).toList()
                    + " after " + within + "; console:\n" + console.text(), e);
        } finally {
            vm.tell(new Vm.Stop("test done", kit.system().ignoreRef()));
        }
        return console;
    }

    static List<String> earlyBootLines(String cmdline) {
        return List.of("Linux version 6.", "Command line: " + cmdline,
                "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
                "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
                "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable",
                "Hypervisor detected: KVM",
                "kvm-clock: Using msrs",
                "ACPI: RSDP 0x00000000000E0000",
                "RAMDISK: [mem ",
                // The furthest line QEMU prints for this kernel on our emulating hosts (then both hit cmpxchg16b).
                "Memory: 213676K/261752K available");
    }

    @Test
    void vmlinuxThroughPvhGetsAsFarAsQemuHere() {
        String cmdline = GuestImage.CMDLINE + " earlyprintk=ttyS0 actorvm.test=pvh";
        boot(guest.vmlinux(), cmdline, 1, earlyBootLines(cmdline), Duration.ofSeconds(150));
    }

    @Test
    void bzImageThroughTheLinuxBootProtocolReachesTheKernel() {
        // The LZ4 decompressor runs emulated first: this path is much slower here than vmlinux.
        String cmdline = GuestImage.CMDLINE + " earlyprintk=ttyS0 actorvm.test=bzimage";
        boot(guest.vmlinuz(), cmdline, 1, List.of("Command line: " + cmdline, "Hypervisor detected: KVM",
                "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable"), Duration.ofSeconds(300));
    }

    @Test
    void linuxSeesTheVirtioDiskAndNetworkDevices(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(HostCheck.hasHardwareVirtualization(),
                "no vmx/svm in /proc/cpuinfo: this host's KVM emulates guest code and Linux cannot finish booting; virtio under Linux skipped");
        Path disk = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        String cmdline = GuestImage.CMDLINE
                + " -- /bin/busybox sh -c \"cat /sys/block/vda/size; cat /sys/class/net/eth0/address; head -c 8 /dev/hwrng | wc -c\"";
        GuestRun.Capture console = new GuestRun.Capture();
        VmConfig config = new VmConfig("linux-virtio", guest.vmlinux(), cmdline, 256L << 20, 2, console)
                .withInitrd(guest.initramfs())
                .withDisks(List.of(new io.actorvm.vmm.DiskConfig(disk, false)))
                .withNets(List.of(io.actorvm.vmm.NetConfig.parse("switch=linux-test,mac=02:00:00:00:00:07")))
                .withRng(true);
        ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
        TestProbe<Vm.Terminated> ended = kit.createTestProbe();
        vm.tell(new Vm.WatchTermination(ended.getRef()));
        vm.tell(new Vm.Start(kit.system().ignoreRef()));
        Vm.Terminated t = ended.expectMessageClass(Vm.Terminated.class, Duration.ofSeconds(120));
        assertFalse(t.error(), t.reason() + "\n" + console.text());
        assertTrue(console.text().contains("\n2048\r\n") || console.text().contains("\n2048\n"), "/dev/vda has 2048 sectors:\n" + console.text());
        assertTrue(console.text().contains("02:00:00:00:00:07"), "eth0 has our MAC:\n" + console.text());
        assertTrue(console.text().contains("actorvm-guest: command exit status 0"), console.text());
    }

    @ParameterizedTest(name = "{0} vCPU(s)")
    @ValueSource(ints = {1, 4})
    void bootsToAShellRunsACommandAndPowersOff(int cpus) {
        Assumptions.assumeTrue(HostCheck.hasHardwareVirtualization(),
                "no vmx/svm in /proc/cpuinfo: this host's KVM emulates guest code and Linux cannot finish booting; full boot skipped");
        // Linux hands the words after "--" to init as its arguments; only double quotes group words.
        String cmdline = GuestImage.CMDLINE + " -- /bin/busybox sh -c \"echo actorvm-cpus=$(nproc)\"";
        GuestRun.Capture console = new GuestRun.Capture();
        VmConfig config = new VmConfig("linux", guest.vmlinux(), cmdline, 256L << 20, cpus, console).withInitrd(guest.initramfs());
        ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
        TestProbe<Vm.Terminated> ended = kit.createTestProbe();
        vm.tell(new Vm.WatchTermination(ended.getRef()));
        vm.tell(new Vm.Start(kit.system().ignoreRef()));
        Vm.Terminated t = ended.expectMessageClass(Vm.Terminated.class, Duration.ofSeconds(120));
        assertFalse(t.error(), t.reason() + "\n" + console.text());
        assertTrue(console.text().contains("actorvm-guest: init started"), console.text());
        assertTrue(console.text().contains("actorvm-cpus=" + cpus), console.text());
        assertTrue(console.text().contains("actorvm-guest: powering off"), console.text());
        assertEquals(0, t.exitStatus());
    }
}
