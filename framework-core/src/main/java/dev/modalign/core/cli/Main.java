package dev.modalign.core.cli;

import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.ProvisionException;
import com.google.inject.spi.Message;
import dev.modalign.core.RunFailure;
import dev.modalign.core.RunStopped;
import dev.modalign.core.UserError;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code modalign} command. Exit codes: 0 ok, 2 bad input, 1 failure, 130 or 143 stopped by SIGINT or SIGTERM. */
@Command(name = "modalign", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Contrastive and cross-modal representation learning experiments.",
        subcommands = {RunCommand.class, ValidateCommand.class, PluginsCommand.class, SyncCommand.class, RerunCommand.class,
            ReportCommand.class,
            BenchDataCommand.class, BenchCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

    public static final int OK = 0;
    public static final int FAILURE = 1;
    public static final int BAD_INPUT = 2;

    @Option(names = "--debug", description = "Print stack traces of errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean debug;

    @Override
    public Integer call() {
        CommandLine.usage(this, System.out);
        return BAD_INPUT;
    }

    public static void main(String[] args) {
        System.setProperty("ai.djl.offline", "true");
        System.exit(execute(args, System.out, System.err));
    }

    /** Runs the command line and returns the exit code; for tests and the launcher. */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        Main main = new Main();
        CommandLine commandLine = new CommandLine(main);
        commandLine.setOut(new java.io.PrintWriter(out, true));
        commandLine.setErr(new java.io.PrintWriter(err, true));
        commandLine.setExitCodeExceptionMapper(e -> e instanceof UserError ? BAD_INPUT : FAILURE);
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> report(unwrap(e), main.debug, err));
        commandLine.setParameterExceptionHandler((e, arguments) -> {
            err.println("error: " + e.getMessage());
            err.println("see: " + e.getCommandLine().getCommandSpec().qualifiedName() + " --help");
            return BAD_INPUT;
        });
        return commandLine.execute(args);
    }

    static int report(Throwable e, boolean debug, PrintStream err) {
        if (e instanceof UserError user) {
            err.println(user.problems().size() == 1 ? "error:" : user.problems().size() + " errors:");
            user.problems().forEach(p -> err.println("  " + p.render()));
            if (debug) {
                e.printStackTrace(err);
            }
            return BAD_INPUT;
        }
        if (e instanceof RunStopped stopped) {
            err.println("stopped: " + e.getMessage());
            return stopped.exitCode();
        }
        if (e instanceof RunFailure) {
            err.println("failed: " + e.getMessage());
        } else {
            err.println("failed: " + e + (debug ? "" : " (run with --debug for the stack trace)"));
        }
        if (debug) {
            e.printStackTrace(err);
        }
        return FAILURE;
    }

    /** Guice wraps what providers throw; the user should see the original error. */
    static Throwable unwrap(Throwable e) {
        Throwable current = e;
        while (true) {
            if (current instanceof ProvisionException provision && !provision.getErrorMessages().isEmpty()) {
                Throwable cause = firstCause(provision.getErrorMessages());
                if (cause == null) {
                    return current;
                }
                current = cause;
            } else if (current instanceof CreationException creation && !creation.getErrorMessages().isEmpty()) {
                Throwable cause = firstCause(creation.getErrorMessages());
                if (cause == null) {
                    return current;
                }
                current = cause;
            } else {
                return current;
            }
        }
    }

    private static Throwable firstCause(java.util.Collection<Message> messages) {
        for (Message message : messages) {
            if (message.getCause() != null) {
                return message.getCause();
            }
        }
        return null;
    }

    /** Creates a Guice injector; kept here so commands share one error path. */
    static com.google.inject.Injector injector(com.google.inject.Module module) {
        return Guice.createInjector(module);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"modalign " + (version == null ? "dev" : version) + ", plugin API "
                    + dev.modalign.api.ModalignApi.VERSION};
        }
    }
}
