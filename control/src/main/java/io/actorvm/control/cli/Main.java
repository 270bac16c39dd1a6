package io.actorvm.control.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code actorvm}: the command-line client of the VM actors. */
@Command(name = "actorvm", mixinStandardHelpOptions = true, version = "actorvm 0.1.0",
        description = "A KVM virtual machine monitor in which a VM is a tree of typed actors.",
        subcommands = {RunCommand.class, ServeCommand.class, VmCommand.class, DemoCommand.class, GuestCommand.class, KvmHostCommand.class, SnapshotCommand.class, RestoreCommand.class, HistoryCommand.class, ReplayCommand.class, ReplayDevicesCommand.class, InspectCommand.class, DiffCommand.class})
public final class Main implements Runnable {
    /** Exit status for bad user input and unusable hosts. */
    static final int USAGE_ERROR = 2;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        // Initialise logging before any actor thread logs, so SLF4J need not replay early calls.
        org.slf4j.LoggerFactory.getILoggerFactory();
        CommandLine cl = new CommandLine(new Main());
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
