package io.actorvm.control.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.actorvm.control.api.ApiEndpoint;

import java.io.IOException;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A paused running VM seen through its control API's {@code /debug} routes ({@code inspect
 * --api-sock}, {@code step}): registers, memory, single-steps.
 */
final class LiveVm {
    /** The API refused a request: its fault message. */
    static final class Refused extends Exception {
        final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }

        /** The command's exit status: 2 for a request the API found wrong or untimely (4xx), 1 for its own failure. */
        int exitStatus() {
            return status >= 500 ? 1 : Main.USAGE_ERROR;
        }
    }

    /** What one {@code /debug/memory} request may read. */
    static final int CHUNK = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final ApiClient client;

    LiveVm(ApiClient client) {
        this.client = client;
    }

    /** What a command does with the VM: its exit status. */
    interface Use {
        int use(LiveVm vm) throws IOException, InterruptedException, Refused;
    }

    /** Runs {@code use} against the API at {@code endpoint}; failures become one-line errors and exit statuses. */
    static int with(ApiEndpoint endpoint, String token, Use use) {
        try {
            return use.use(new LiveVm(new ApiClient(endpoint, token)));
        } catch (Refused e) {
            System.err.println("actorvm: " + e.getMessage());
            return e.exitStatus();
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        } catch (IOException e) {
            System.err.println("actorvm: cannot reach the control API at " + endpoint + ": " + (e.getMessage() == null ? e : e.getMessage()));
            return Main.USAGE_ERROR;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /**
     * vCPU {@code vcpu}'s registers as lines of {@code name=value}; null when {@code absentIsEnd}
     * and the VM has no such vCPU (the end of a walk over all of them).
     */
    List<String> registers(int vcpu, boolean absentIsEnd) throws IOException, InterruptedException, Refused {
        ApiClient.Response r = client.send("GET", "/debug/vcpus/" + vcpu + "/registers");
        JsonNode j = json(r);
        if (r.status() == 400 && absentIsEnd && j.path("fault_message").asText().startsWith("the VM has no vCPU")) return null;
        refuseUnlessOk(r, j);
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        int n = 0;
        for (var field : (Iterable<java.util.Map.Entry<String, JsonNode>>) j::fields) {
            if (field.getKey().equals("vcpu")) continue;
            JsonNode v = field.getValue();
            String text = v.isObject() ? field.getKey() + "=" + v.path("selector").asText() + " base=" + v.path("base").asText()
                    + " limit=" + v.path("limit").asText() : field.getKey() + "=" + v.asText();
            // Four plain registers a line, a segment on a line of its own.
            if (v.isObject() || n == 4) {
                if (!line.isEmpty()) lines.add(line.toString());
                line.setLength(0);
                n = 0;
            }
            line.append(line.isEmpty() ? "" : " ").append(text);
            n = v.isObject() ? 4 : n + 1;
        }
        if (!line.isEmpty()) lines.add(line.toString());
        return lines;
    }

    /** {@code length} bytes at {@code address}, physical or virtual (through {@code vcpu}'s page tables), in chunks the API allows. */
    byte[] memory(long address, int length, boolean virtual, int vcpu) throws IOException, InterruptedException, Refused {
        ByteArrayOutputStream out = new ByteArrayOutputStream(length);
        for (int done = 0; done < length; ) {
            int n = Math.min(CHUNK, length - done);
            ApiClient.Response r = client.send("GET", "/debug/memory?address=0x" + Long.toHexString(address + done) + "&length=" + n
                    + "&virtual=" + virtual + "&vcpu=" + vcpu);
            JsonNode j = json(r);
            refuseUnlessOk(r, j);
            byte[] bytes = HexFormat.of().parseHex(j.path("hex").asText());
            if (bytes.length != n) throw new IOException("the API answered " + bytes.length + " bytes for " + n);
            out.writeBytes(bytes);
            done += n;
        }
        return out.toByteArray();
    }

    /** Steps vCPU {@code vcpu}; the API's answer (vcpu, steps, rip, ended). */
    JsonNode step(int vcpu, Long count, String until, long timeoutMillis) throws IOException, InterruptedException, Refused {
        ObjectNode body = JSON.createObjectNode().put("vcpu", vcpu);
        if (count != null) body.put("count", count);
        if (until != null) body.put("until", until);
        body.put("timeout_ms", timeoutMillis);
        // The API answers when the step ends, which may be the step's own timeout (up to 300 s).
        ApiClient.Response r = client.send("PUT", "/debug/step", body.toString(), ApiClient.ANSWER_WITHIN.plusMillis(timeoutMillis));
        JsonNode j = json(r);
        refuseUnlessOk(r, j);
        return j;
    }

    private static void refuseUnlessOk(ApiClient.Response r, JsonNode j) throws Refused {
        if (r.status() != 200) throw new Refused(r.status(), j.path("fault_message").asText("HTTP " + r.status()));
    }

    private static JsonNode json(ApiClient.Response r) throws IOException {
        try {
            return JSON.readTree(r.body());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException("the API answered something that is not JSON: " + r.body().lines().findFirst().orElse(""));
        }
    }
}
