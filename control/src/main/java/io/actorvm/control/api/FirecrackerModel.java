package io.actorvm.control.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.util.List;

/**
 * The request and response bodies of Firecracker's API (its OpenAPI document, {@code firecracker.yaml}),
 * as records: field names in snake case, unknown fields refused (as Firecracker's serde types do),
 * absent fields null so that a missing required one is named in the answer.
 */
final class FirecrackerModel {
    private FirecrackerModel() {
    }

    /** The mapper for every Firecracker body: snake case, strict, no nulls written. */
    static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .build();

    /** A body of {@code type}; IllegalArgumentException with a one-line message when it is not one. */
    static <T> T parse(String body, Class<T> type, String what) {
        if (body == null || body.isBlank()) throw new IllegalArgumentException("the request needs a JSON body (" + what + ")");
        try {
            T value = JSON.readValue(body, type);
            if (value == null) throw new IllegalArgumentException("the request body must be a JSON object (" + what + ")");
            return value;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("malformed " + what + ": " + e.getOriginalMessage());
        }
    }

    static JsonNode tree(String body) {
        try {
            return body == null || body.isBlank() ? null : JSON.readTree(body);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    static <T> T require(T value, String field, String what) {
        if (value == null) throw new IllegalArgumentException(what + " needs '" + field + "'");
        return value;
    }

    /** A token bucket as Firecracker configures one; we accept none (no rate limiting yet). */
    record RateLimiter(JsonNode bandwidth, JsonNode ops) {}

    /** {@code PUT /boot-source}. */
    record BootSource(String kernelImagePath, String bootArgs, String initrdPath) {}

    /** {@code PUT|PATCH|GET /machine-config}. */
    record MachineConfig(Integer vcpuCount, Integer memSizeMib, Boolean smt, Boolean trackDirtyPages, String cpuTemplate,
                         String hugePages) {}

    /** {@code PUT /drives/{drive_id}}. */
    record Drive(String driveId, String pathOnHost, Boolean isRootDevice, Boolean isReadOnly, String partuuid, String cacheType,
                 RateLimiter rateLimiter, String ioEngine, String socket) {}

    /**
     * {@code PUT /network-interfaces/{iface_id}}: a host tap device ({@code host_dev_name}), or (an
     * actorvm extension) {@code switch}, the in-JVM switch of that name, which in a cluster spans its nodes.
     */
    record NetworkInterface(String ifaceId, String hostDevName, String guestMac, RateLimiter rxRateLimiter,
                            RateLimiter txRateLimiter, @JsonProperty("switch") String vswitch) {}

    /** {@code PUT /entropy}. */
    record EntropyDevice(RateLimiter rateLimiter) {}

    /** {@code PUT /logger}. */
    record Logger(String logPath, String level, Boolean showLevel, Boolean showLogOrigin, String module) {}

    /** {@code PUT /metrics}. */
    record Metrics(String metricsPath) {}

    /** {@code PUT /actions}: InstanceStart, SendCtrlAltDel or FlushMetrics. */
    record InstanceActionInfo(String actionType) {}

    /** {@code PATCH /vm}: Paused or Resumed. */
    record VmState(String state) {}

    /** {@code PUT /snapshot/create}. */
    record SnapshotCreateParams(String snapshotType, String snapshotPath, String memFilePath, String version) {}

    /** Where a snapshot's memory comes from: a file (we have no userfaultfd backend). */
    record MemoryBackend(String backendType, String backendPath) {}

    /** A tap device replacing a snapshot's, by interface id. */
    record NetworkOverride(String ifaceId, String hostDevName) {}

    /** {@code PUT /snapshot/load}. */
    record SnapshotLoadParams(String snapshotPath, String memFilePath, MemoryBackend memBackend, Boolean enableDiffSnapshots,
                              Boolean trackDirtyPages, Boolean resumeVm, List<NetworkOverride> networkOverrides) {}

    /** {@code GET /}: state is "Not started", "Running" or "Paused". */
    record InstanceInfo(String appName, String id, String state, String vmmVersion) {}

    /** {@code GET /version}. */
    record FirecrackerVersion(String firecrackerVersion) {}

    /** {@code GET /vm/config}: what was configured, in the shape it was given. */
    record FullVmConfiguration(@JsonProperty("boot-source") BootSource bootSource, @JsonProperty("machine-config") MachineConfig machineConfig,
                               List<Drive> drives, @JsonProperty("network-interfaces") List<NetworkInterface> networkInterfaces,
                               EntropyDevice entropy, Logger logger, Metrics metrics, JsonNode balloon, JsonNode vsock,
                               @JsonProperty("mmds-config") JsonNode mmdsConfig) {}
}
