package dev.modalign.core.train;

import ai.djl.engine.Engine;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.plugin.LoadedPlugin;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * How a run was made, recorded with it so that it can be reproduced from the tracker alone: the
 * resolved configuration, the plugins and their versions, the data's identity, the seed, the
 * engine and the source revision.
 */
public final class Provenance {

    private final String modalignVersion;
    private final String sourceRevision;

    public Provenance(String modalignVersion, String sourceRevision) {
        this.modalignVersion = modalignVersion;
        this.sourceRevision = sourceRevision;
    }

    /** Reads the version from the core jar's manifest and the revision from -Dmodalign.revision or git. */
    public static Provenance detect() {
        String version = Provenance.class.getPackage().getImplementationVersion();
        String revision = System.getProperty("modalign.revision");
        if (revision == null || revision.isBlank()) {
            revision = gitRevision();
        }
        return new Provenance(version == null ? "dev" : version, revision);
    }

    public Map<String, String> tags(RunPlan plan) {
        Map<String, String> tags = new LinkedHashMap<>();
        tags.put("modalign.version", modalignVersion);
        tags.put("modalign.source_revision", sourceRevision);
        tags.put("modalign.seed", Long.toString(plan.spec().seed()));
        tags.put("modalign.experiment_file", plan.file().toString());
        tags.put("modalign.data.train", plan.train().source().fingerprint());
        if (plan.eval() != null) {
            tags.put("modalign.data.eval", plan.eval().source().fingerprint());
        }
        Engine engine = Engine.getInstance();
        tags.put("modalign.engine", engine.getEngineName() + " " + engine.getVersion());
        for (LoadedPlugin plugin : plan.plugins()) {
            tags.put("modalign.plugin." + plugin.name(), plugin.version());
        }
        return tags;
    }

    /** The resolved configuration as YAML: every default filled in, so the file alone re-runs the run. */
    public String resolvedYaml(RunPlan plan) {
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        options.setIndent(2);
        options.setSplitLines(false);
        return "# resolved by modalign " + modalignVersion + " (" + sourceRevision + ") from " + plan.file() + "\n"
                + new Yaml(options).dump(plan.resolved());
    }

    private static String gitRevision() {
        try {
            Process process = new ProcessBuilder("git", "rev-parse", "--short=12", "HEAD").redirectErrorStream(true).start();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return "unknown";
            }
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (process.exitValue() != 0 || out.isEmpty()) {
                return "unknown";
            }
            Process status = new ProcessBuilder("git", "status", "--porcelain", "--untracked-files=no").start();
            status.waitFor(5, TimeUnit.SECONDS);
            boolean dirty = status.getInputStream().readAllBytes().length > 0;
            return out + (dirty ? "-dirty" : "");
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }
}
