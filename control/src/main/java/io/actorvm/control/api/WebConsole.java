package io.actorvm.control.api;

import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.ws.BinaryMessage;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * The web console of {@code serve}: a page ({@code /ui/}) listing the VMs with their state, size,
 * uptime and exit and I/O rates, with buttons for the API's lifecycle routes, each VM's serial
 * console in a terminal (xterm.js, from its npm package as a WebJar) over a WebSocket, and its
 * snapshots on a timeline with "restore from here". The page only calls the API's own routes.
 */
final class WebConsole extends AllDirectives {
    /** xterm.js as the WebJar of its npm package ships it. */
    private static final String XTERM = "META-INF/resources/webjars/xterm/4.9.0/";
    private static final String UI = "io/actorvm/control/ui/";
    /** How often a console socket looks for new output (the console keeps the last 64 KiB). */
    private static final Duration CONSOLE_POLL = Duration.ofMillis(40);
    /** Input bytes one WebSocket message may carry: typing and pasting, not bulk transfer. */
    static final int MAX_INPUT = 4096;

    private final ActorSystem<?> system;

    WebConsole(ActorSystem<?> system) {
        this.system = system;
    }

    /** The page and its scripts. */
    Route pages() {
        return pathPrefix("ui", () -> get(() -> concat(
                pathEndOrSingleSlash(() -> getFromResource(UI + "index.html", ContentTypes.TEXT_HTML_UTF8)),
                path("app.js", () -> getFromResource(UI + "app.js")),
                path("app.css", () -> getFromResource(UI + "app.css")),
                path("xterm.js", () -> getFromResource(XTERM + "lib/xterm.js")),
                path("xterm.css", () -> getFromResource(XTERM + "css/xterm.css")))));
    }

    /**
     * A VM's console as a WebSocket: binary messages carry its output (what the console still
     * holds first, then what comes), text messages from the client are typed at the console.
     */
    Route consoleSocket(VmDirectory.Entry e) {
        Materializer mat = Materializer.matFromSystem(system);
        // A message is read only up to MAX_INPUT characters (a larger one is dropped, never
        // gathered whole in memory); binary messages are drained and dropped.
        Sink<Message, ?> typed = Flow.<Message>create()
                .mapAsync(1, m -> m.isText()
                        ? m.asTextMessage().getStreamedText().limitWeighted(MAX_INPUT, chunk -> (long) chunk.length())
                                .runFold("", String::concat, mat).exceptionally(tooLarge -> "")
                        : m.asBinaryMessage().getStreamedData().runWith(Sink.ignore(), mat).thenApply(done -> ""))
                .map(t -> t.getBytes(StandardCharsets.UTF_8))
                .filter(b -> b.length > 0)
                .to(Sink.foreach(b -> {
                    if (b.length > MAX_INPUT) return; // a paste this large is no typing; dropped
                    if (e.instance().started()) e.instance().vm().tell(new Vm.ConsoleInput(b));
                }));
        Source<Message, ?> output = Source.tick(Duration.ZERO, CONSOLE_POLL, NotUsed.notUsed())
                .statefulMap(() -> new long[] {0}, (next, tick) -> {
                    ConsoleTail.Read r = e.console().since(next[0]);
                    next[0] = r.from() + r.bytes().length;
                    return Pair.create(next, r.bytes());
                }, next -> Optional.empty())
                .filter(b -> b.length > 0)
                .map(b -> (Message) BinaryMessage.create(ByteString.fromArray(b)));
        return handleWebSocketMessages(Flow.fromSinkAndSourceCoupled(typed, output));
    }
}
