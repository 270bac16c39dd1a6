package io.actorvm.devices;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A device's counters, as a record of its own type ({@code Serial16550.Metrics} ...), so a caller
 * reads {@code metrics.txBytes()} with the compiler's help. {@link #counters()} gives the same
 * values by snake_case name for logs and the CLI; a component that is itself metrics (the virtio
 * transport's device model) is flattened into it.
 */
public interface DeviceMetrics {
    default Map<String, Long> counters() {
        Map<String, Long> out = new LinkedHashMap<>();
        RecordComponent[] components = getClass().getRecordComponents();
        if (components == null) return out;
        for (RecordComponent c : components) {
            Object v;
            try {
                v = c.getAccessor().invoke(this);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException("metrics " + getClass().getName() + "." + c.getName() + " unreadable", e);
            }
            switch (v) {
                case DeviceMetrics nested -> out.putAll(nested.counters());
                case Number n -> out.put(snakeCase(c.getName()), n.longValue());
                case Boolean b -> out.put(snakeCase(c.getName()), b ? 1L : 0L);
                default -> throw new IllegalStateException("metrics " + getClass().getName() + "." + c.getName() + " is not a counter");
            }
        }
        return out;
    }

    private static String snakeCase(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
    }
}
