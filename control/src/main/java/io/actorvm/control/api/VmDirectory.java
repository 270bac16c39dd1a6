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

    /**
     * The VMs this process did not create itself: those of the cluster a node belongs to. A
     * {@code serve} process has none.
     */
    public interface Remote {
        /** The name of every VM there is (defined anywhere, ever). */
        java.util.concurrent.CompletionStage<List<String>> names();

        /** An entry for VM {@code name}, made on this node, or null when no VM has that name. */
        java.util.concurrent.CompletionStage<Entry> find(String name);

        /**
         * Where VM {@code name} lives ({@code host:port} of its node, "" when that is unknown) and
         * how its last live migration from there went ("" when none).
         */
        java.util.concurrent.CompletionStage<Place> placeOf(String name);

        /** See {@link #placeOf}. */
        record Place(String node, String migration) {}

        /**
         * Asks that running VM {@code name} move to node {@code to}, its pre-copy stopping when what is
         * left fits {@code downtimeMillis} or after {@code maxRounds}; completes once the move is
         * under way (IllegalArgumentException with the reason when it is refused).
         */
        java.util.concurrent.CompletionStage<Void> migrate(String name, String to, long downtimeMillis, int maxRounds);

        /** The nodes of the cluster as this one sees them: {@code host:port} and membership status. */
        List<Map<String, String>> nodes();
    }

    private final InstanceFactory factory;
    private final Remote remote;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public VmDirectory(InstanceFactory factory) {
        this(factory, null);
    }

    /** A directory that also shows the VMs of {@code remote} (a cluster), entered when first named. */
    public VmDirectory(InstanceFactory factory, Remote remote) {
        this.factory = factory;
        this.remote = remote;
    }

    Remote remote() {
        return remote;
    }

    /** Takes in {@code e}, found elsewhere, unless an entry of that name came first; returns the one kept. */
    synchronized Entry adopt(Entry e) {
        return entries.computeIfAbsent(e.name(), n -> e);
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
