package io.actorvm.images;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A client of QEMU's machine protocol (QMP) on a Unix socket: to press the key that keeps the
 * emulated host's interrupts coming, and to look inside an emulated host that stopped answering
 * (QEMU's monitor still answers when the emulated CPU is stuck, and its {@code info registers}
 * tells whether the CPU is in a nested guest and where).
 */
final class QemuMonitor implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;

    private QemuMonitor(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.out = Channels.newOutputStream(channel);
    }

    /** Connects and leaves capabilities negotiation mode, after which commands are accepted. */
    static QemuMonitor connect(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            QemuMonitor m = new QemuMonitor(ch);
            m.reply(); // the greeting
            m.execute(JsonNodeFactory.instance.objectNode().put("execute", "qmp_capabilities"));
            return m;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Runs a human monitor command ({@code info registers}, {@code info cpus}) and returns its text. */
    String human(String commandLine) throws IOException {
        ObjectNode cmd = JsonNodeFactory.instance.objectNode().put("execute", "human-monitor-command");
        cmd.putObject("arguments").put("command-line", commandLine);
        return execute(cmd).asText();
    }

    /** Sends an NMI to every emulated CPU: it wakes a halted CPU whatever its interrupt state. */
    void injectNmi() throws IOException {
        execute(JsonNodeFactory.instance.objectNode().put("execute", "inject-nmi"));
    }

    /** Presses and releases one key ({@code qcode} as QMP names it, e.g. {@code shift}) on the emulated PS/2 keyboard. */
    void pressKey(String qcode) throws IOException {
        ObjectNode cmd = JsonNodeFactory.instance.objectNode().put("execute", "send-key");
        cmd.putObject("arguments").putArray("keys").addObject().put("type", "qcode").put("data", qcode);
        execute(cmd);
    }

    private JsonNode execute(ObjectNode command) throws IOException {
        out.write((JSON.writeValueAsString(command) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return reply();
    }

    /** The next reply, skipping asynchronous events; an error reply is an exception. */
    private JsonNode reply() throws IOException {
        for (String line; (line = in.readLine()) != null; ) {
            JsonNode node = JSON.readTree(line);
            if (node.has("error")) throw new IOException("QMP: " + node.get("error").path("desc").asText(line));
            if (node.has("return")) return node.get("return");
            if (node.has("QMP")) return node;
        }
        throw new IOException("QMP: QEMU closed the monitor");
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
