package io.actorvm.vmm.actors.virtio;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;

/**
 * One VM's share of the device I/O pool, which every VM of the actor system uses: at most
 * {@code width} of the VM's requests run at once, the rest wait here in the order they came.
 * A guest that keeps every queue of every disk full then holds {@code width} of the pool's
 * threads, never all of them, and the other VMs' disks go on.
 */
public final class VmIoShare implements Executor {
    /** Requests of one VM running at once on the shared pool (16 threads by default). */
    public static final int DEFAULT_WIDTH = 4;

    private final Executor pool;
    private final int width;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private int running;

    public VmIoShare(Executor pool, int width) {
        if (width < 1) throw new IllegalArgumentException("width " + width);
        this.pool = pool;
        this.width = width;
    }

    @Override
    public void execute(Runnable task) {
        synchronized (this) {
            if (running >= width) {
                waiting.add(task);
                return;
            }
            running++;
        }
        pool.execute(() -> runThenNext(task));
    }

    private void runThenNext(Runnable task) {
        Runnable next = task;
        while (next != null) {
            try {
                next.run();
            } finally {
                synchronized (this) {
                    next = waiting.poll();
                    if (next == null) running--;
                }
            }
        }
    }
}
