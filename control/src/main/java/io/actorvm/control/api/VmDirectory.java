package io.actorvm.control.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The VMs of one {@code serve} process, by name: each an instance the Firecracker routes configure
 * under {@code /vms/NAME/}, with its console kept as a {@link ConsoleTail}. Names are what a URL
 * path segment, an actor name and a journal id can all hold. Thread-safe.
 */
public final class VmDirectory {
    /** Names: a letter or digit, then letters, digits, '-' or '_', at most 64 in all. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");
    /** How many VMs one process holds (each costs threads and memory even before it starts). */
    public static final int MAX_VMS = 256;

    /** Makes the instance for a new name; its launcher publishes console output to {@code console}. */
    @FunctionalInterface
    public interface InstanceFactory {
        MicroVm create(String name, ConsoleTail console);
    }

    /** One VM: its instance and console. */
    public record Entry(String name, MicroVm instance, ConsoleTail console) {}

    /** A name already taken, or the directory full: 409. */
    static final class Conflict extends RuntimeException {
        Conflict(String message) {
            super(message);
        }
    }

    private final InstanceFactory factory;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public VmDirectory(InstanceFactory factory) {
        this.factory = factory;
    }

    /** A directory of the one VM a {@code run} process runs: it holds no other (creation is refused). */
    public static VmDirectory single(String name, MicroVm instance, ConsoleTail console) {
        VmDirectory d = new VmDirectory((n, c) -> {
            throw new Conflict("this VMM runs one VM, " + name + " (actorvm serve hosts many)");
        });
        d.entries.put(name, new Entry(name, instance, console));
        return d;
    }

    /** A new, unconfigured VM; IllegalArgumentException for a bad name, Conflict for a taken one. */
    synchronized Entry create(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a VM name is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit, not "
                    + (name == null ? "nothing" : "'" + name + "'"));
        }
        if (entries.containsKey(name)) throw new Conflict("a VM named " + name + " exists already");
        if (entries.size() >= MAX_VMS) throw new Conflict("this VMM holds " + MAX_VMS + " VMs already");
        ConsoleTail console = new ConsoleTail();
        Entry e = new Entry(name, factory.create(name, console), console);
        entries.put(name, e);
        return e;
    }

    synchronized Entry get(String name) {
        return entries.get(name);
    }

    synchronized List<Entry> list() {
        return new ArrayList<>(entries.values());
    }

    synchronized Entry remove(String name) {
        return entries.remove(name);
    }
}
