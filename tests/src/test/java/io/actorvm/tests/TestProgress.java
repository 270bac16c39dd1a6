package io.actorvm.tests;

import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.BeforeTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

/**
 * Prints a line when each end-to-end test starts and ends. Surefire reports a class only when all
 * of it has run; in the emulated KVM host a class of Linux boots takes many minutes, and without
 * these lines a hang would show nothing of which test hung (registered for every test of this
 * module through {@code META-INF/services}; see {@code junit-platform.properties}).
 */
public final class TestProgress implements BeforeTestExecutionCallback, AfterTestExecutionCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(TestProgress.class);

    @Override
    public void beforeTestExecution(ExtensionContext context) {
        context.getStore(NS).put("start", System.nanoTime());
        System.out.printf("test: %s started %s%n", name(context), LocalTime.now().truncatedTo(ChronoUnit.SECONDS));
    }

    @Override
    public void afterTestExecution(ExtensionContext context) {
        Long start = context.getStore(NS).get("start", Long.class);
        double seconds = start == null ? 0 : (System.nanoTime() - start) / 1e9;
        String outcome = context.getExecutionException()
                .map(e -> e instanceof TestAbortedException ? "skipped" : "FAILED (" + e.getClass().getSimpleName() + ")")
                .orElse("passed");
        System.out.printf("test: %s %s in %.1f s%n", name(context), outcome, seconds);
    }

    private static String name(ExtensionContext context) {
        String cls = context.getRequiredTestClass().getSimpleName();
        return cls + "." + context.getRequiredTestMethod().getName() + " " + context.getDisplayName();
    }
}
