package io.actorvm.images;

/**
 * How far a long build got, for a progress bar: {@code done} of {@code total} steps are behind it
 * and {@code next} is what it does now ("done" when {@code done == total}). Called on the
 * building thread; the log lines the build prints say the same in words.
 */
@FunctionalInterface
public interface BuildProgress {
    void step(int done, int total, String next);

    BuildProgress NONE = (done, total, next) -> {};
}
