package dev.modalign.core.compose;

import ai.djl.Device;
import ai.djl.engine.Engine;
import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.name.Names;
import dev.modalign.api.Tracker;
import dev.modalign.core.UserError;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.track.LocalTracker;
import dev.modalign.core.train.Provenance;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Assembles one run: the core services (plugin registry, tracker, device, output, provenance) are
 * bound once, and the run plan is composed from the experiment file by {@link RunComposer}.
 */
public final class RunModule extends AbstractModule {

    /**
     * Settings from the command line and environment that override the experiment file.
     *
     * @param trackingUri a tracking server, or null to use the file's (or the local store)
     * @param trackingDir the local store's directory, or null to use the file's
     * @param device auto, cpu or gpu; null to use the file's
     * @param assignments {@code path=value} assignments applied to the file before it is bound
     * @param baseDir the directory relative paths resolve against; null for the file's own
     */
    public record Overrides(String trackingUri, Path trackingDir, String device, java.util.List<String> assignments,
            Path baseDir) {
        public Overrides(String trackingUri, Path trackingDir, String device) {
            this(trackingUri, trackingDir, device, java.util.List.of(), null);
        }

        public Overrides(String trackingUri, Path trackingDir, String device, java.util.List<String> assignments) {
            this(trackingUri, trackingDir, device, assignments, null);
        }

        public static Overrides none() {
            return new Overrides(null, null, null);
        }
    }

    private final PluginRegistry registry;
    private final Path experimentFile;
    private final Overrides overrides;
    private final Path cacheDir;
    private final PrintStream out;

    private final org.yaml.snakeyaml.nodes.Node document;

    public RunModule(PluginRegistry registry, Path experimentFile, Overrides overrides, Path cacheDir, PrintStream out) {
        this(registry, experimentFile, null, overrides, cacheDir, out);
    }

    /**
     * A run of a document made from an experiment file (a stage of it), rather than of the file as it is.
     *
     * @param document the experiment to run, with the overrides' assignments already applied; null for the file
     */
    public RunModule(PluginRegistry registry, Path experimentFile, org.yaml.snakeyaml.nodes.Node document,
            Overrides overrides, Path cacheDir, PrintStream out) {
        this.document = document;
        this.registry = registry;
        this.experimentFile = experimentFile;
        this.overrides = overrides;
        this.cacheDir = cacheDir;
        this.out = out;
    }

    @Override
    protected void configure() {
        bind(PluginRegistry.class).toInstance(registry);
        bind(Path.class).annotatedWith(Names.named("cacheDir")).toInstance(cacheDir);
        bind(PrintStream.class).toInstance(out);
        bind(Provenance.class).toInstance(Provenance.detect());
    }

    @Provides
    @Singleton
    RunPlan plan(RunComposer composer) {
        return document != null ? composer.compose(experimentFile, document)
                : composer.compose(experimentFile, overrides.assignments(), overrides.baseDir());
    }

    @Provides
    @Singleton
    Tracker tracker(RunPlan plan) {
        String uri = overrides.trackingUri() != null ? overrides.trackingUri() : plan.spec().tracking().uri();
        if (uri == null || uri.isBlank() || uri.startsWith("file:")) {
            Path dir = uri != null && uri.startsWith("file:") ? Path.of(java.net.URI.create(uri))
                    : overrides.trackingDir() != null ? overrides.trackingDir() : Path.of(plan.spec().tracking().dir());
            return new LocalTracker(dir);
        }
        return Trackers.forUri(registry, uri, plan.spec().tracking().options(), cacheDir, plan.file().toString());
    }

    @Provides
    @Singleton
    Device device(RunPlan plan) {
        String wanted = overrides.device() != null ? overrides.device() : plan.spec().train().device();
        Engine engine = Engine.getInstance();
        return switch (wanted) {
            case "cpu" -> Device.cpu();
            case "gpu" -> {
                if (engine.getGpuCount() == 0) {
                    throw new UserError("train.device is gpu, but " + engine.getEngineName()
                            + " sees no GPU here; use device: auto to train on the CPU when there is none");
                }
                yield Device.gpu();
            }
            default -> engine.defaultDevice();
        };
    }
}
