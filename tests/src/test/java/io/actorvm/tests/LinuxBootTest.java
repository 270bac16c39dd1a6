package io.actorvm.tests;

import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.images.GuestImage;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's cloud kernel with our initramfs (built from Debian packages by {@code guest build}),
 * booted both ways: {@code vmlinux} through its PVH note and the bzImage through the Linux boot
 * protocol. Each test asserts what Linux reports about <em>our</em> configuration (memory, CPUs,
 * command line, e820 map, devices), never one kernel build's own numbers. Needs KVM with hardware
 * virtualization (natively, or through {@code ./actorvm kvm-host}).
 *
 * <p>Boots are {@code quiet}: the kernel's console output polls the UART per character (two exits
 * a byte), so what a test checks from the kernel log it reads with {@code dmesg} from userspace,
 * whose console output is interrupt-driven.
 */
class LinuxBootTest {
    static ActorTestKit kit;
    static GuestImage guest;
    static final long MEMORY = 256L << 20;
    static final Duration BOOT = Duration.ofSeconds(420);

    enum Kernel {
        VMLINUX, BZIMAGE;

        Path path() {
            return this == VMLINUX ? guest.vmlinux() : guest.vmlinuz();
        }
    }

    @BeforeAll
    static void setUp() {
        GuestRun.assumeKvm();
        GuestRun.assumeHardwareVirtualization("Linux boot tests");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/apt-get")),
                "no apt-get on this host: cannot assemble the Debian guest, Linux boot tests skipped");
        guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.out.println("guest build: " + line));
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void tearDown() {
        if (kit != null) kit.shutdownTestKit();
    }

    record Running(ActorRef<Vm.Command> vm, GuestRun.Capture console) {
        Vm.Terminated awaitEnd() {
            Vm.Terminated t;
            try {
                t = console.awaitEnd(BOOT);
            } catch (AssertionError e) {
                String progress = progress();
                vm.tell(new Vm.Stop("test timed out", kit.system().ignoreRef()));
                throw new AssertionError(e.getMessage() + "\n" + progress, e);
            }
            assertFalse(t.error(), t.reason() + "\n" + console.text());
            return t;
        }

        void awaitConsole(String text) {
            try {
                await().atMost(BOOT).pollInterval(Duration.ofMillis(250)).until(() -> console.text().contains(text));
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                throw new AssertionError("no '" + text + "' on the console after " + BOOT + ":\n" + console.text()
                        + "\n" + progress(), e);
            }
        }

        /**
         * What the VM did in 10 s, from its counters taken twice (exits, accesses, read timeouts,
         * every device's counters and backlog): whether a guest that went silent still runs, and
         * where. The failure of a wait then says more than the console's last line.
         */
        String progress() {
            try {
                Vm.Stats before = stats();
                Thread.sleep(10_000);
                Vm.Stats after = stats();
                StringBuilder out = new StringBuilder("the VM's counters, and their change in the 10 s after the wait:\n");
                after.io().forEach((k, v) -> out.append("  ").append(k).append(' ').append(v)
                        .append(" (+").append(v - before.io().getOrDefault(k, 0L)).append(")\n"));
                for (DeviceActor.Metrics d : after.devices()) {
                    out.append("  ").append(d.device()).append(": ").append(d.counters()).append(", backlog ")
                            .append(d.backlogDepth()).append(", failures ").append(d.failures()).append('\n');
                }
                return out.toString();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // the test is being stopped: let it see that
                return "the VM's counters: not had (interrupted)";
            } catch (AssertionError e) {
                return "the VM's counters: not had (" + e + ")";
            }
        }

        private Vm.Stats stats() {
            TestProbe<Vm.Stats> stats = kit.createTestProbe();
            vm.tell(new Vm.GetStats(stats.getRef()));
            return stats.expectMessageClass(Vm.Stats.class, Duration.ofSeconds(30));
        }

        DeviceActor.Metrics device(String name) {
            return stats().devices().stream()
                    .filter(d -> d.device().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("no device " + name));
        }
    }

    static Running start(VmConfig config) {
        ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
        GuestRun.Capture console = GuestRun.Capture.attach(kit, vm);
        vm.tell(new Vm.Start(kit.system().ignoreRef()));
        return new Running(vm, console);
    }

    static VmConfig linux(String name, Kernel kernel, int cpus, String command) {
        String cmdline = GuestImage.CMDLINE + " quiet actorvm.test=" + name + (command.isEmpty() ? "" : " -- " + command);
        return new VmConfig(name, kernel.path(), cmdline, MEMORY, cpus).withInitrd(guest.initramfs());
    }

    /** Linux hands the words after "--" to init; only double quotes group words there. */
    static String sh(String script) {
        if (script.contains("\"")) throw new IllegalArgumentException("no double quotes inside: " + script);
        return "/bin/busybox sh -c \"" + script + "\"";
    }

    /** What Linux reports about the machine, printed from userspace. */
    static final String REPORT = "echo cpus=$(nproc); grep MemTotal /proc/meminfo; cat /proc/cmdline;"
            + " dmesg | grep -e BIOS-e820 -e 'Hypervisor detected' -e 'kvm-clock: Using msrs' -e 'ACPI: RSDP' -e 'failed with error';"
            + " grep -e ttyS0 -e i8042 -e rtc0 /proc/interrupts; ls /dev/rtc0";

    static void assertOurMachine(String console, int cpus, String name) {
        assertTrue(console.contains("actorvm-guest: init started"), "userspace output reaches the console:\n" + console);
        assertTrue(console.contains("cpus=" + cpus + "\n") || console.contains("cpus=" + cpus + "\r\n"), cpus + " CPUs:\n" + console);
        Matcher mem = Pattern.compile("MemTotal:\\s+(\\d+) kB").matcher(console);
        assertTrue(mem.find(), console);
        long kb = Long.parseLong(mem.group(1));
        // Our 256 MiB, less what the kernel keeps for itself: within the last quarter, never more.
        assertTrue(kb <= MEMORY / 1024 && kb > MEMORY / 1024 * 3 / 4, "MemTotal " + kb + " kB for 256 MiB:\n" + console);
        assertTrue(console.contains("actorvm.test=" + name), "our command line:\n" + console);
        for (String line : List.of("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
                "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
                "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable",
                "Hypervisor detected: KVM", "kvm-clock: Using msrs", "ACPI: RSDP 0x00000000000E0000", "/dev/rtc0")) {
            assertTrue(console.contains(line), "'" + line + "' missing:\n" + console);
        }
        assertFalse(Pattern.compile("probe of \\S+ failed with error").matcher(console).find(), "a driver failed to probe:\n" + console);
        // The UART's interrupts reach Linux through the IOAPIC (none did before the DSDT named COM1).
        assertTrue(interrupts(console, "4-edge\\s+ttyS0") > 0, "ttyS0 takes interrupts on IO-APIC pin 4:\n" + console);
        assertTrue(interrupts(console, "1-edge\\s+i8042") >= 0, "i8042 on IO-APIC pin 1:\n" + console);
        assertTrue(interrupts(console, "8-edge\\s+rtc0") >= 0, "rtc0 on IO-APIC pin 8:\n" + console);
    }

    /** The interrupt count of a /proc/interrupts line (summed over CPUs), or -1 when there is no such line. */
    static long interrupts(String console, String source) {
        Matcher m = Pattern.compile("(?m)^\\s*\\d+:((?:\\s+\\d+)+)\\s+IO-APIC\\s+" + source).matcher(console);
        if (!m.find()) return -1;
        long sum = 0;
        for (String n : m.group(1).trim().split("\\s+")) sum += Long.parseLong(n);
        return sum;
    }

    @ParameterizedTest(name = "{0}, {1} vCPU(s)")
    @CsvSource({"VMLINUX, 1", "VMLINUX, 4", "BZIMAGE, 1", "BZIMAGE, 4"})
    void bootsToInitAndRunsACommandOnOurMachine(Kernel kernel, int cpus) {
        String name = "boot-" + kernel.name().toLowerCase() + "-" + cpus;
        Running vm = start(linux(name, kernel, cpus, sh(REPORT)));
        Vm.Terminated t = vm.awaitEnd();
        String console = vm.console().text();
        assertOurMachine(console, cpus, name);
        assertTrue(console.contains("actorvm-guest: command exit status 0"), console);
        // The init ends with 'reboot -f'; with reboot=k Linux resets through the i8042, which ends the VM.
        assertTrue(console.contains("actorvm-guest: powering off"), console);
        assertTrue(t.reason().contains("reset"), t.reason());
        assertEquals(0, t.exitStatus());
    }

    @ParameterizedTest
    @EnumSource(Kernel.class)
    void theShellOnTheConsoleIsInteractive(Kernel kernel) {
        Running vm = start(linux("shell-" + kernel.name().toLowerCase(), kernel, 1, ""));
        vm.awaitConsole("starting a shell");
        // The shell's prompt comes once it reads the console; what we type before that waits in the UART and the tty.
        vm.vm().tell(new Vm.ConsoleInput("echo answer=$((6 * 7)); exit\r".getBytes(StandardCharsets.US_ASCII)));
        vm.awaitConsole("answer=42");
        Vm.Terminated t = vm.awaitEnd();
        assertTrue(vm.console().text().contains("actorvm-guest: powering off"), vm.console().text());
        assertEquals(0, t.exitStatus());
    }

    @ParameterizedTest
    @EnumSource(Kernel.class)
    void aFileWrittenToTheDiskReachesTheHostAndSyncFlushes(Kernel kernel, @TempDir Path dir) throws Exception {
        Path disk = dir.resolve("disk.img");
        Files.write(disk, new byte[8 << 20]);
        String payload = "actorvm-disk-payload-" + kernel.name().toLowerCase() + "-" + System.nanoTime();
        String script = "mke2fs -q /dev/vda && mount /dev/vda /mnt && echo " + payload + " > /mnt/file && sync"
                + " && umount /mnt && mount -o ro /dev/vda /mnt && cat /mnt/file && umount /mnt"
                + " && head -c 64 /dev/hwrng | wc -c | sed s/^/hwrng-bytes=/; poweroff -f";
        VmConfig config = linux("disk-" + kernel.name().toLowerCase(), kernel, 2, sh(script))
                .withDisks(List.of(new DiskConfig(disk, false))).withRng(true);
        Running vm = start(config);
        Vm.Terminated t = vm.awaitEnd();
        String console = vm.console().text();
        assertTrue(console.contains(payload + "\r\n") || console.contains(payload + "\n"), "the file reads back:\n" + console);
        assertTrue(console.contains("hwrng-bytes=64"), "64 bytes from /dev/hwrng:\n" + console);
        // poweroff -f goes through ACPI: \_S5 and the sleep control register.
        assertTrue(t.reason().contains("power"), t.reason());
        String image = new String(Files.readAllBytes(disk), StandardCharsets.ISO_8859_1);
        assertTrue(image.contains(payload), "the payload is in the host's image file");
        long flushes = vm.device("virtio-blk").counters().getOrDefault("flushes", 0L);
        assertTrue(flushes > 0, "the guest's sync reached the host as a flush: " + vm.device("virtio-blk"));
    }

    @ParameterizedTest
    @EnumSource(Kernel.class)
    void twoLinuxVmsPingEachOtherOverTheInJvmSwitch(Kernel kernel) {
        String lan = "linux-lan-" + kernel.name().toLowerCase();
        String k = kernel.name().toLowerCase();
        Running a = start(linux("ping-a-" + k, kernel, 1, sh(pingScript("10.0.3.1", "10.0.3.2")))
                .withNets(List.of(NetConfig.parse("switch=" + lan + ",mac=02:00:00:00:03:01"))));
        Running b = start(linux("ping-b-" + k, kernel, 1, sh(pingScript("10.0.3.2", "10.0.3.1")))
                .withNets(List.of(NetConfig.parse("switch=" + lan + ",mac=02:00:00:00:03:02"))));
        a.awaitEnd();
        b.awaitEnd();
        assertTrue(a.console().text().contains("ping-status=0"), "a pings b:\n" + a.console().text());
        assertTrue(b.console().text().contains("ping-status=0"), "b pings a:\n" + b.console().text());
    }

    /**
     * Brings eth0 up, waits until the peer answers at all (it may still be booting: busybox's
     * {@code ping -c 3} sends three pings a second apart and gives up, whatever {@code -w} says),
     * then pings it 3 times, and stays up a while for the peer's pings.
     */
    static String pingScript(String self, String peer) {
        return "ip addr add " + self + "/24 dev eth0 && ip link set eth0 up && i=0; until ping -c 1 -W 1 " + peer
                + " >/dev/null 2>&1 || [ $i -ge 120 ]; do i=$((i+1)); done; ping -c 3 -w 60 " + peer
                + "; echo ping-status=$?; sleep 20";
    }

    @ParameterizedTest
    @EnumSource(Kernel.class)
    void linuxAndATapPeerInANetworkNamespacePingEachOther(Kernel kernel) throws Exception {
        GuestRun.assume("root".equals(System.getProperty("user.name")), "creating tap devices and namespaces needs root");
        long pid = ProcessHandle.current().pid();
        String ns = "avmlx" + pid + kernel.ordinal(), tap = "avml" + (pid % 10000) + kernel.ordinal();
        assertEquals(0, NetGuestTest.sh("ip", "netns", "add", ns));
        try {
            Running vm = start(linux("tap-" + kernel.name().toLowerCase(), kernel, 1,
                    sh("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && echo eth0-up && ping -c 3 -w 240 10.0.2.1;"
                            + " echo ping-status=$?; sleep 30"))
                    .withNets(List.of(NetConfig.parse("tap=" + tap + ",mac=02:00:00:00:02:0f"))));
            // The VMM opened the tap; move it into the namespace and give the host side its address.
            await().atMost(Duration.ofSeconds(60)).until(() -> NetGuestTest.sh("ip", "link", "show", tap) == 0);
            assertEquals(0, NetGuestTest.sh("ip", "link", "set", tap, "netns", ns));
            assertEquals(0, NetGuestTest.sh("ip", "-n", ns, "addr", "add", "10.0.2.1/24", "dev", tap));
            assertEquals(0, NetGuestTest.sh("ip", "-n", ns, "link", "set", tap, "up"));
            vm.awaitConsole("eth0-up");
            assertEquals(0, NetGuestTest.sh("ip", "netns", "exec", ns, "ping", "-c", "3", "-w", "120", "10.0.2.15"),
                    "the namespace pings the guest:\n" + vm.console().text());
            vm.awaitEnd();
            assertTrue(vm.console().text().contains("ping-status=0"), "the guest pings the namespace:\n" + vm.console().text());
        } finally {
            NetGuestTest.sh("ip", "netns", "del", ns);
        }
    }
}
