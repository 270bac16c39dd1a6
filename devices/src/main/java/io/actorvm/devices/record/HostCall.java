package io.actorvm.devices.record;

import com.google.protobuf.ByteString;
import io.actorvm.devices.proto.Item;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * One call of the VMM into a device model, while a recording is made or replayed: what the model
 * takes from the host (clock, entropy, disk data) and gives to it (interrupts, console bytes, disk
 * writes) during the call, in order. The {@link Recorded} wrappers around the host sources find the
 * call through a thread-local: the model is unchanged and does not know it is recorded.
 *
 * <p>Recording, the wrappers ask the real source and {@link #add} what it gave. Replaying, there is
 * no real source: inputs come from the recorded items in order ({@link #takeInput}), and every
 * item the model produces is gathered the same way so the two lists can be compared.
 */
public final class HostCall {
    private static final ThreadLocal<HostCall> CURRENT = new ThreadLocal<>();

    private final List<Item> items = new ArrayList<>();
    /** Replaying: the recorded items, and the next one an input may come from. */
    private final List<Item> recorded;
    private int inputCursor;
    /** Console bytes are gathered into one item per run, as they go out together. */
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();

    private HostCall(List<Item> recorded) {
        this.recorded = recorded;
    }

    /** A call being recorded. */
    public static HostCall recording() {
        return new HostCall(null);
    }

    /** A call being replayed against these recorded items. */
    public static HostCall replaying(List<Item> recorded) {
        return new HostCall(List.copyOf(recorded));
    }

    /** The call this thread is making into a device model, or null outside one. */
    public static HostCall current() {
        return CURRENT.get();
    }

    /** This thread is now making this call (until {@link #leave}). */
    public HostCall enter() {
        CURRENT.set(this);
        return this;
    }

    public void leave() {
        if (CURRENT.get() == this) CURRENT.remove();
    }

    public boolean replaying() {
        return recorded != null;
    }

    /** An item the model took or gave. */
    public void add(Item item) {
        endConsoleRun();
        items.add(item);
    }

    void addAll(List<Item> more) {
        endConsoleRun();
        items.addAll(more);
    }

    void addConsoleByte(byte b) {
        console.write(b);
    }

    /**
     * Replaying: the next recorded input, which must be of {@code kind}; it is also added to this
     * call's items. A model that asks for something else (or more) than the recording holds has
     * diverged: {@link DivergenceException}.
     */
    public Item takeInput(Item.ItemCase kind) {
        while (inputCursor < recorded.size() && !isInput(recorded.get(inputCursor).getItemCase())) inputCursor++;
        if (inputCursor == recorded.size()) {
            throw new DivergenceException("the model asked the host for " + Items.describe(kind) + "; the recording has no more inputs for this call");
        }
        Item next = recorded.get(inputCursor++);
        if (next.getItemCase() != kind) {
            throw new DivergenceException("the model asked the host for " + Items.describe(kind) + "; the recording has " + Items.describe(next));
        }
        add(next);
        return next;
    }

    /** What the model took and gave during the call, in order. */
    public List<Item> items() {
        endConsoleRun();
        return List.copyOf(items);
    }

    /**
     * How this call's items differ from {@code recorded}: the first item that differs, in words,
     * or null when they are the same.
     */
    public String mismatch(List<Item> recorded) {
        List<Item> mine = items();
        for (int i = 0; i < Math.max(mine.size(), recorded.size()); i++) {
            Item m = i < mine.size() ? mine.get(i) : null, r = i < recorded.size() ? recorded.get(i) : null;
            if (m != null && m.equals(r)) continue;
            return "the model " + (m == null ? "gave nothing more" : "gave " + Items.describe(m)) + " where the recording has "
                    + (r == null ? "nothing more" : Items.describe(r));
        }
        return null;
    }

    private void endConsoleRun() {
        if (console.size() == 0) return;
        items.add(Item.newBuilder().setConsole(ByteString.copyFrom(console.toByteArray())).build());
        console.reset();
    }

    /**
     * Items a replay takes from the recording at the point the model asks for them: what the host
     * gave, and the host calls whose answer (an error) the model sees.
     */
    static boolean isInput(Item.ItemCase kind) {
        return switch (kind) {
            case CLOCK_NANOS, ENTROPY, DISK_READ, DISK_WRITE, DISK_FLUSH, NET_SEND -> true;
            default -> false;
        };
    }
}
