package io.actorvm.tests;

import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net: two VMs on the in-JVM switch exchange and check frames; a guest answers ARP and
 * ICMP echo from a host tap peer that lives in a network namespace the test creates (only
 * namespace addresses are used: nothing reaches the host's own network).
 */
class NetGuestTest extends ActorTestSupport {

    record Running(ActorRef<Vm.Command> vm, GuestRun.Capture console) {}

    static Running start(VmConfig config) {
        var vm = kit.spawn(Vm.create(config));
        GuestRun.Capture console = GuestRun.Capture.attach(kit, vm);
        vm.tell(new Vm.Start(kit.system().ignoreRef()));
        return new Running(vm, console);
    }

    @Test
    void twoVmsOnTheInJvmSwitchExchangeFrames() {
        GuestRun.assumeKvm();
        NetConfig lan = NetConfig.parse("switch=peer-test");
        Running b = start(new VmConfig("peer-b", GuestRun.guest("net-peer"), "role=b frames=20", 16L << 20, 1).withNets(List.of(lan)));
        Running a = start(new VmConfig("peer-a", GuestRun.guest("net-peer"), "role=a frames=20", 16L << 20, 1).withNets(List.of(lan)));
        Vm.Terminated ta = a.console().awaitEnd(Duration.ofSeconds(180));
        Vm.Terminated tb = b.console().awaitEnd(Duration.ofSeconds(60));
        assertEquals(0, ta.exitStatus(), a.console().text());
        assertEquals(0, tb.exitStatus(), b.console().text());
        assertTrue(a.console().text().contains("net-peer a ok frames=20\n"), a.console().text());
        assertTrue(b.console().text().contains("net-peer b echoed 20\n"), b.console().text());
    }

    static int sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish");
        }
        if (p.exitValue() != 0) System.err.println(String.join(" ", cmd) + ": " + out);
        return p.exitValue();
    }

    @Test
    void guestAnswersPingFromATapPeerInANetworkNamespace() throws Exception {
        GuestRun.assumeKvm();
        GuestRun.assume("root".equals(System.getProperty("user.name")), "creating tap devices and namespaces needs root");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")), "no ip(8) (iproute2)");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/ping")) || Files.isExecutable(Path.of("/bin/ping")), "no ping (iputils-ping)");
        long pid = ProcessHandle.current().pid();
        String ns = "avmtest" + pid, tap = "avmt" + (pid % 100000);
        assertEquals(0, sh("ip", "netns", "add", ns));
        try {
            Running vm = start(new VmConfig("icmp", GuestRun.guest("net-icmp"), "ip=10.0.2.15 count=3", 16L << 20, 1).withNets(List.of(NetConfig.parse("tap=" + tap + ",mac=02:00:00:00:00:0f"))));
            await().atMost(Duration.ofSeconds(60)).until(() -> vm.console().text().contains("net-icmp ready"));
            // The VMM keeps the tap's file descriptor; the interface itself moves into the namespace.
            assertEquals(0, sh("ip", "link", "set", tap, "netns", ns));
            assertEquals(0, sh("ip", "netns", "exec", ns, "ip", "addr", "add", "10.0.2.1/24", "dev", tap));
            assertEquals(0, sh("ip", "netns", "exec", ns, "ip", "link", "set", tap, "up"));
            assertEquals(0, sh("ip", "netns", "exec", ns, "ping", "-c", "3", "-W", "10", "10.0.2.15"), "3 echo replies");
            Vm.Terminated t = vm.console().awaitEnd(Duration.ofSeconds(60));
            assertEquals(0, t.exitStatus(), vm.console().text());
            assertTrue(vm.console().text().contains("net-icmp arp\n"), vm.console().text());
            assertTrue(vm.console().text().contains("net-icmp answered 3\n"), vm.console().text());
        } finally {
            sh("ip", "netns", "del", ns);
        }
    }
}
