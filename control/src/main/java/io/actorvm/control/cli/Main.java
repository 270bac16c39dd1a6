package io.actorvm.control.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code actorvm}: the command-line client of the VM actors. */
@Command(name = "actorvm", mixinStandardHelpOptions = true, version = "actorvm 0.1.0",
        description = "A KVM virtual machine monitor in which a VM is a tree of typed actors.")
public final class Main implements Runnable {
    /** Exit status for bad user input and unusable hosts. */
    static final int USAGE_ERROR = 2;

    /** The subcommands, in the order help lists them. */
    static final java.util.Map<String, Class<?>> COMMANDS = commands(RunCommand.class, ServeCommand.class, NodeCommand.class, VmCommand.class,
            DemoCommand.class, GuestCommand.class, KvmHostCommand.class, SnapshotCommand.class, RestoreCommand.class,
            HistoryCommand.class, ReplayCommand.class, ReplayDevicesCommand.class, InspectCommand.class, StepCommand.class, DiffCommand.class,
            StartUpTrainingCommand.class);

    @Override
    public void run() {
        commandLine(new String[0]).usage(System.out);
    }

    /**
     * The command line for {@code args}: with only the subcommand they name when they name one.
     * picocli reads every registered command's annotations up front (about 0.2 s for all of ours
     * in a JVM without the launcher's AOT cache), and a run needs only its own.
     */
    static CommandLine commandLine(String[] args) {
        CommandLine cl = new CommandLine(new Main());
        Class<?> named = args.length > 0 ? COMMANDS.get(args[0]) : null;
        if (named != null) cl.addSubcommand(args[0], named);
        else COMMANDS.forEach(cl::addSubcommand);
        return cl;
    }

    private static java.util.Map<String, Class<?>> commands(Class<?>... classes) {
        java.util.Map<String, Class<?>> out = new java.util.LinkedHashMap<>();
        for (Class<?> c : classes) out.put(c.getAnnotation(Command.class).name(), c);
        return java.util.Collections.unmodifiableMap(out);
    }

    public static void main(String[] args) {
        // Initialise logging before any actor thread logs, so SLF4J need not replay early calls.
        org.slf4j.LoggerFactory.getILoggerFactory();
        CommandLine cl = commandLine(args);
        // One-line errors for bad input: picocli's own message, no stack trace, exit status 2.
        cl.setParameterExceptionHandler((e, a) -> {
            System.err.println("actorvm: " + e.getMessage());
            return USAGE_ERROR;
        });
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            System.err.println("actorvm: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return USAGE_ERROR;
        });
        System.exit(cl.execute(args));
    }
}
