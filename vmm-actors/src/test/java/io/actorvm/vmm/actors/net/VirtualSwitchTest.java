package io.actorvm.vmm.actors.net;

import io.actorvm.vmm.actors.virtio.VirtioRings;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtualSwitchTest {
    static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    static byte[] frame(int dst, int src, int tag) {
        byte[] f = new byte[60];
        for (int i = 0; i < 6; i++) {
            f[i] = (byte) (dst == 0xFF ? 0xFF : (i == 5 ? dst : 2));
            f[6 + i] = (byte) (i == 5 ? src : 2);
        }
        f[12] = (byte) 0x88;
        f[13] = (byte) 0xB5;
        f[14] = (byte) tag;
        return f;
    }

    /** Stands in for a device's rings actor: keeps the frames delivered to its receive queue. */
    static ActorRef<VirtioRings.Command> collector(List<byte[]> frames) {
        return kit.spawn(Behaviors.receive(VirtioRings.Command.class)
                .onMessage(VirtioRings.Inbound.class, in -> {
                    frames.add(in.data());
                    return Behaviors.same();
                })
                .build());
    }

    @Test
    void floodsUnknownLearnsSourcesAndForwardsUnicast() {
        var sw = kit.spawn(VirtualSwitch.create("t"));
        List<byte[]> a = new CopyOnWriteArrayList<>(), b = new CopyOnWriteArrayList<>(), c = new CopyOnWriteArrayList<>();
        sw.tell(new VirtualSwitch.Connect(1, collector(a), 0, null, new AtomicInteger()));
        sw.tell(new VirtualSwitch.Connect(2, collector(b), 0, null, new AtomicInteger()));
        sw.tell(new VirtualSwitch.Connect(3, collector(c), 0, null, new AtomicInteger()));

        sw.tell(new VirtualSwitch.Frame(1, frame(0xFF, 1, 1)));      // broadcast from MAC ..:01 on port 1
        await().until(() -> b.size() == 1 && c.size() == 1);
        assertEquals(0, a.size(), "never back out of the port it came in");

        sw.tell(new VirtualSwitch.Frame(2, frame(1, 2, 2)));         // to ..:01, learned on port 1
        await().until(() -> a.size() == 1);
        sw.tell(new VirtualSwitch.Frame(1, frame(2, 1, 3)));         // to ..:02, learned on port 2
        await().until(() -> b.size() == 2);
        assertEquals(1, c.size(), "unicast to a learned address does not flood");
        assertEquals(3, b.get(1)[14]);

        sw.tell(new VirtualSwitch.Frame(3, new byte[10]));           // runt: dropped
        sw.tell(new VirtualSwitch.Disconnect(2));
        sw.tell(new VirtualSwitch.Frame(1, frame(2, 1, 4)));         // ..:02 forgotten: flooded to port 3 only
        await().until(() -> c.size() == 2);
        assertTrue(b.size() == 2);
    }

    static byte[] mac(int last) {
        return new byte[] {2, 2, 2, 2, 2, (byte) last};
    }

    static VirtualSwitch.Stats stats(ActorRef<VirtualSwitch.Command> sw) {
        var probe = kit.<VirtualSwitch.Stats>createTestProbe();
        sw.tell(new VirtualSwitch.GetStats(probe.getRef()));
        return probe.receiveMessage();
    }

    @Test
    void aPortCannotSendAsAnotherAndUnicastToAConnectedMacIsNeverFlooded() {
        var sw = kit.spawn(VirtualSwitch.create("locked"));
        List<byte[]> a = new CopyOnWriteArrayList<>(), b = new CopyOnWriteArrayList<>(), c = new CopyOnWriteArrayList<>();
        sw.tell(new VirtualSwitch.Connect(1, collector(a), 0, mac(1), new AtomicInteger()));
        sw.tell(new VirtualSwitch.Connect(2, collector(b), 0, mac(2), new AtomicInteger()));
        sw.tell(new VirtualSwitch.Connect(3, collector(c), 0, mac(3), new AtomicInteger()));

        sw.tell(new VirtualSwitch.Frame(1, frame(0xFF, 2, 1)));      // port 1 claims to be ..:02
        sw.tell(new VirtualSwitch.Frame(3, frame(2, 3, 2)));         // to ..:02: known since port 2 connected
        sw.tell(new VirtualSwitch.Frame(1, frame(0xFF, 1, 3)));      // a genuine broadcast from ..:01
        await().until(() -> b.size() == 2 && c.size() == 1);
        assertEquals(2, b.getFirst()[14], "the spoofed frame reached nobody");
        assertEquals(3, c.getFirst()[14]);
        assertEquals(0, a.size(), "port 3's unicast to ..:02 was not flooded to port 1");
        VirtualSwitch.Stats s = stats(sw);
        assertEquals(1, s.spoofed());
        assertEquals(1, s.forwarded());
        assertEquals(1, s.flooded());
    }

    @Test
    void withoutAMacAPortOwnsTheFirstSourceItSends() {
        var sw = kit.spawn(VirtualSwitch.create("first-source"));
        List<byte[]> a = new CopyOnWriteArrayList<>(), b = new CopyOnWriteArrayList<>();
        sw.tell(new VirtualSwitch.Connect(1, collector(a), 0, null, new AtomicInteger()));
        sw.tell(new VirtualSwitch.Connect(2, collector(b), 0, null, new AtomicInteger()));
        sw.tell(new VirtualSwitch.Frame(1, frame(0xFF, 1, 1)));
        sw.tell(new VirtualSwitch.Frame(1, frame(0xFF, 9, 2)));      // a second source from the same port
        sw.tell(new VirtualSwitch.Frame(2, frame(0xFF, 1, 3)));      // port 2 claims port 1's address
        await().until(() -> b.size() == 1);
        assertEquals(2, stats(sw).spoofed());
        assertEquals(0, a.size());
    }

    @Test
    void withSourcesUnlockedAPortLearnsOnlyItsShare() {
        var sw = kit.spawn(VirtualSwitch.create("bridge", new VirtualSwitch.Policy(false, 2, 256)));
        List<byte[]> a = new CopyOnWriteArrayList<>(), b = new CopyOnWriteArrayList<>(), c = new CopyOnWriteArrayList<>();
        sw.tell(new VirtualSwitch.Connect(1, collector(a), 0, null, new AtomicInteger()));
        sw.tell(new VirtualSwitch.Connect(2, collector(b), 0, null, new AtomicInteger()));
        sw.tell(new VirtualSwitch.Connect(3, collector(c), 0, null, new AtomicInteger()));
        for (int src = 10; src < 13; src++) sw.tell(new VirtualSwitch.Frame(1, frame(0xFF, src, src)));
        await().until(() -> b.size() == 3 && c.size() == 3);
        sw.tell(new VirtualSwitch.Frame(2, frame(11, 2, 20)));        // learned: to port 1 only
        sw.tell(new VirtualSwitch.Frame(2, frame(12, 2, 21)));        // beyond port 1's share: flooded
        await().until(() -> a.size() == 2 && c.size() == 4);
        assertEquals(21, c.get(3)[14]);
        assertEquals(0, stats(sw).spoofed());
    }

    @Test
    void aPortSendingFasterThanTheSwitchTakesFramesDropsTheExcess() {
        var parked = kit.<VirtualSwitch.Command>createTestProbe(); // a switch that takes nothing
        SwitchPort port = new SwitchPort(parked.getRef(), 8);
        for (int i = 0; i < 20; i++) port.send(frame(0xFF, 1, i));
        assertEquals(12, port.dropped());
        assertEquals(8, parked.receiveSeveralMessages(8).size());
        parked.expectNoMessage(java.time.Duration.ofMillis(100));

        var sw = kit.spawn(VirtualSwitch.create("bounded"));
        List<byte[]> b = new CopyOnWriteArrayList<>();
        SwitchPort sender = new SwitchPort(sw, 8);
        sender.connect(collector(new CopyOnWriteArrayList<>()), 0, mac(1));
        sw.tell(new VirtualSwitch.Connect(99, collector(b), 0, mac(2), new AtomicInteger()));
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 8; i++) sender.send(frame(0xFF, 1, i));
            stats(sw); // the switch has taken them: the port may queue 8 more
        }
        await().until(() -> b.size() == 24);
        assertEquals(0, sender.dropped());
    }

    @Test
    void switchesAreSharedByName() {
        assertEquals(Switches.get(kit.system()).named("lan"), Switches.get(kit.system()).named("lan"));
        assertTrue(!Switches.get(kit.system()).named("lan").equals(Switches.get(kit.system()).named("dmz")));
    }

    /**
     * Two switches of one name that span nodes (here both in this actor system, found through its
     * receptionist as a cluster's nodes find each other): one segment, frames crossing as trunk
     * messages; a MAC that appears behind the other switch (a VM that moved there) is reached there
     * at once, even while its old port here is still connected.
     */
    @Test
    void switchesOfOneNameOnTwoNodesAreOneSegment() {
        var here = kit.spawn(VirtualSwitch.create("span", VirtualSwitch.Policy.DEFAULT, true));
        var there = kit.spawn(VirtualSwitch.create("span", VirtualSwitch.Policy.DEFAULT, true));
        List<byte[]> a = new CopyOnWriteArrayList<>(), b = new CopyOnWriteArrayList<>(), c = new CopyOnWriteArrayList<>(),
                moved = new CopyOnWriteArrayList<>();
        here.tell(new VirtualSwitch.Connect(21, collector(a), 0, mac(1), new AtomicInteger()));
        there.tell(new VirtualSwitch.Connect(22, collector(b), 0, mac(2), new AtomicInteger()));
        here.tell(new VirtualSwitch.Connect(23, collector(c), 0, mac(3), new AtomicInteger()));

        // A broadcast reaches the other switch's port once the two have found each other, and this one's other port.
        await().until(() -> {
            here.tell(new VirtualSwitch.Frame(21, frame(0xFF, 1, 1)));
            return !b.isEmpty();
        });
        assertTrue(!c.isEmpty());
        there.tell(new VirtualSwitch.Frame(22, frame(1, 2, 2)));   // unicast to ..:01, across
        await().until(() -> a.stream().anyMatch(f -> f[14] == 2));

        // ..:03 appears behind the other switch: frames for it go there, not to its old port here.
        there.tell(new VirtualSwitch.Connect(24, collector(moved), 0, mac(3), new AtomicInteger()));
        await().until(() -> {
            here.tell(new VirtualSwitch.Frame(21, frame(3, 1, 3)));
            return !moved.isEmpty();
        });
        here.tell(new VirtualSwitch.Frame(21, frame(3, 1, 4)));
        await().until(() -> moved.stream().anyMatch(f -> f[14] == 4));
        stats(here); // anything for port 23 is in its collector's mailbox by now
        await().pollDelay(java.time.Duration.ofMillis(200)).until(() -> true);
        assertTrue(c.stream().noneMatch(f -> f[14] == 2 || f[14] == 4),
                "unicast is not flooded on the far side, and the old port gets nothing once the MAC is behind the other switch");
        VirtualSwitch.Stats stats = stats(here);
        assertTrue(stats.trunked() >= 3, "frames crossed: " + stats);
    }

    @Test
    void trunkMessagesCrossJvmsThroughKryo() {
        var serialization = org.apache.pekko.serialization.SerializationExtension.get(kit.system().classicSystem());
        ActorRef<VirtualSwitch.Command> sw = kit.spawn(VirtualSwitch.create("kryo"));
        for (VirtualSwitch.Command m : List.of(new VirtualSwitch.Trunk(sw, frame(0xFF, 1, 7)), new VirtualSwitch.Announce(sw, mac(1)))) {
            var serializer = serialization.findSerializerFor(m);
            assertEquals(io.actorvm.persistence.KryoSerializer.class, serializer.getClass());
            Object back = serialization.deserialize(serialization.serialize(m).get(), serializer.identifier(),
                    org.apache.pekko.serialization.Serializers.manifestFor(serializer, m)).get();
            switch (back) {
                case VirtualSwitch.Trunk t -> {
                    assertEquals(sw, t.from());
                    assertEquals(7, t.data()[14]);
                }
                case VirtualSwitch.Announce an -> org.junit.jupiter.api.Assertions.assertArrayEquals(mac(1), an.macs());
                default -> throw new AssertionError(back);
            }
        }
    }
}
