package dev.modalign.core.cli;

import dev.modalign.api.Tracker;
import dev.modalign.core.UserError;
import dev.modalign.core.compose.Trackers;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code modalign sync}: sends what runs kept on disk while their tracking server was away. */
@Command(name = "sync", mixinStandardHelpOptions = true,
        description = "Send the records that runs kept on disk while the tracking server was unreachable, in order and "
                + "each once. The server is --tracking-uri, else $MLFLOW_TRACKING_URI.")
final class SyncCommand implements Callable<Integer> {

    @Mixin
    PluginOptions plugins;

    @Option(names = "--tracking-uri", paramLabel = "URI", description = "The tracking server.")
    String trackingUri;

    @Override
    public Integer call() {
        String uri = trackingUri != null ? trackingUri : System.getenv("MLFLOW_TRACKING_URI");
        if (uri == null || uri.isBlank()) {
            throw new UserError("sync needs a tracking server: pass --tracking-uri http://127.0.0.1:5000 or set "
                    + "MLFLOW_TRACKING_URI");
        }
        try (Tracker tracker = Trackers.forUri(plugins.load(System.err), uri, Map.of(), Cache.directory(), "--tracking-uri")) {
            long sent = tracker.sync();
            System.out.println("sent " + sent + " records to " + uri);
        }
        return Main.OK;
    }
}
