package dev.modalign.core.compose;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Tracker;
import dev.modalign.core.UserError;
import dev.modalign.core.config.Binder;
import dev.modalign.core.plugin.ComponentKind;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.plugin.RegisteredComponent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Finds the tracker plugin for a tracking URI (http and https: {@code mlflow}) and creates it with
 * the URI and the experiment's {@code tracking.options} as its parameters.
 */
public final class Trackers {

    private Trackers() {}

    public static Tracker forUri(PluginRegistry registry, String uri, Map<String, Node> options, Path cacheDir,
            String file) {
        String name = uri.startsWith("http://") || uri.startsWith("https://") ? "mlflow" : uri.replaceFirst(":.*", "");
        RegisteredComponent component = registry.find(ComponentKind.TRACKER, name).orElseThrow(() -> new UserError(
                "tracking URI " + uri + " needs the '" + name + "' tracker plugin, which is not installed; "
                        + registry.unknown(ComponentKind.TRACKER, name)
                        + ". Without a URI (no tracking.uri, no --tracking-uri, no MLFLOW_TRACKING_URI) runs go to the local store"));
        List<NodeTuple> tuples = new ArrayList<>();
        tuples.add(new NodeTuple(scalar("uri"), scalar(uri)));
        options.forEach((key, value) -> tuples.add(new NodeTuple(scalar(key), value)));
        Binder binder = new Binder(file);
        Record params = binder.bindRecord(new MappingNode(Tag.MAP, tuples, DumperOptions.FlowStyle.BLOCK),
                component.factory().paramsType(), "tracking.options", name);
        binder.throwIfProblems();
        try {
            return registry.create(component, params, new TrackerContext(cacheDir));
        } catch (InvalidParamException e) {
            throw new UserError(file + " tracking.options." + e.key() + " [" + name + "] " + e.getMessage());
        }
    }

    private static ScalarNode scalar(String value) {
        return new ScalarNode(Tag.STR, value, null, null, DumperOptions.ScalarStyle.PLAIN);
    }

    private record TrackerContext(Path cacheDir) implements ComponentContext {
        @Override
        public long seed() {
            return 0;
        }

        @Override
        public List<String> towers() {
            return List.of();
        }

        @Override
        public int embedDim(String tower) {
            throw new IllegalStateException("trackers have no towers");
        }

        @Override
        public InputSpec input() {
            throw new IllegalStateException("trackers have no input");
        }

        @Override
        public Path baseDir() {
            return Path.of(".").toAbsolutePath();
        }
    }
}
