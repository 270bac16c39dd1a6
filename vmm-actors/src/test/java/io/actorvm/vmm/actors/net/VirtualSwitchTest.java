package io.actorvm.vmm.actors.net;

import io.actorvm.vmm.actors.virtio.VirtioRings;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

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
        sw.tell(new VirtualSwitch.Connect(1, collector(a), 0));
        sw.tell(new VirtualSwitch.Connect(2, collector(b), 0));
        sw.tell(new VirtualSwitch.Connect(3, collector(c), 0));

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

    @Test
    void switchesAreSharedByName() {
        assertEquals(Switches.get(kit.system()).named("lan"), Switches.get(kit.system()).named("lan"));
        assertTrue(!Switches.get(kit.system()).named("lan").equals(Switches.get(kit.system()).named("dmz")));
    }
}
