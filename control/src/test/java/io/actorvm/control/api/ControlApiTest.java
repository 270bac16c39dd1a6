package io.actorvm.control.api;

import com.typesafe.config.ConfigFactory;
import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP side of the control API, against a stand-in for the VM actor (a unit test of this class). */
class ControlApiTest {
    /** pekko-http closes a connection that carries no bytes this long; a snapshot may take longer. */
    final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("pekko.http.server.idle-timeout = 2s"));

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
    }

    @Test
    void aSnapshotSlowerThanTheIdleTimeoutStillGetsItsReply() throws Exception {
        ActorRef<Vm.Command> vm = kit.spawn(Behaviors.receive(Vm.Command.class)
                .onMessage(Vm.TakeSnapshot.class, t -> {
                    Thread.sleep(4_000); // a slow snapshot: twice the idle timeout without a byte on the wire
                    t.replyTo().tell(StatusReply.success(new Vm.SnapshotInfo("snap-1", "", true, 10, 4096, 4000)));
                    return Behaviors.same();
                })
                .build());
        ServerBinding binding = ControlApi.bind(kit.system(), vm, "127.0.0.1", 0).toCompletableFuture().get(10, TimeUnit.SECONDS);
        InetSocketAddress at = binding.localAddress();
        HttpResponse<String> reply = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + at.getPort() + "/snapshot/create?type=full"))
                .PUT(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, reply.statusCode(), reply.body());
        assertTrue(reply.body().contains("snap-1"), reply.body());
    }
}
