package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.testkit.PluginJars;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A method added the way a third party adds one: its source compiled against the API alone, packed
 * with a service entry, dropped into a plugin directory, and named from YAML.
 */
class ThirdPartyPluginTest {

    static final String PLUGIN = """
            package org.example.margin;

            import ai.djl.ndarray.NDArray;
            import dev.modalign.api.*;
            import java.util.List;

            /** A hinge loss on cosine similarity: positives above negatives by a margin. */
            public final class MarginPlugin implements Plugin {
                public String name() { return "margin"; }
                public String version() { return "0.3.1"; }
                public String apiVersion() { return ModalignApi.VERSION; }

                public List<ComponentFactory<?, Loss>> losses() {
                    return List.of(ComponentFactory.of("margin-ranking",
                            "Bidirectional hinge ranking loss on cosine similarity, with a margin.",
                            MarginLoss.Params.class, MarginLoss::new));
                }

                public static final class MarginLoss implements Loss {
                    public record Params(@Doc("The margin.") @Default("0.2") double margin) {
                        public Params {
                            if (margin <= 0) {
                                throw new InvalidParamException("margin", "must be > 0, found " + margin);
                            }
                        }
                    }

                    private final float margin;
                    private final List<String> towers;

                    MarginLoss(Params params, ComponentContext context) {
                        this.margin = (float) params.margin();
                        this.towers = context.towers();
                    }

                    public LossOutput compute(EncodedBatch batch, StepContext context) {
                        NDArray a = normalize(batch.tower(towers.get(0)).embedding());
                        NDArray b = normalize(batch.tower(towers.get(1)).embedding());
                        NDArray scores = a.matMul(b.transpose());
                        NDArray positives = scores.diagonal();
                        long n = scores.getShape().get(0);
                        NDArray eye = context.manager().eye((int) n);
                        NDArray rows = Scalars.maximum(scores.sub(positives.reshape(n, 1)).add(margin), 0).mul(eye.neg().add(1f));
                        NDArray cols = Scalars.maximum(scores.sub(positives.reshape(1, n)).add(margin), 0).mul(eye.neg().add(1f));
                        return new LossOutput(Scalars.div(rows.add(cols).sum(), n));
                    }

                    private static NDArray normalize(NDArray x) {
                        return x.div(x.norm(new int[] {1}, true).add(1e-8f));
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aPluginJarDroppedIntoThePluginDirectoryIsUsableFromYaml() throws IOException {
        Path plugins = Files.createDirectories(dir.resolve("plugins"));
        PluginJars.compile(plugins.resolve("margin.jar"), Map.of("org.example.margin.MarginPlugin", PLUGIN),
                PluginJars.serviceEntry("org.example.margin.MarginPlugin"));

        Cli.Result listed = Cli.run("plugins", "--plugin-dir", plugins.toString());
        assertEquals(0, listed.code(), listed.err());
        assertTrue(listed.out().matches("(?s).*  margin-ranking +margin +0\\.3\\.1 +Bidirectional hinge.*"), listed.out());

        String quickstart = Files.readString(Cli.repo().resolve("experiments/quickstart.yaml"));
        Path experiment = Files.writeString(dir.resolve("margin.yaml"), quickstart
                .replace("name: quickstart", "name: margin")
                .replace("{type: clip, towers: [image, text], temperature: 0.07, learnable: true}",
                        "{type: margin-ranking, towers: [image, text], margin: 0.3}"));
        Cli.Result run = Cli.run("run", experiment.toString(), "--plugin-dir", plugins.toString(),
                "--runs-dir", dir.resolve("runs").toString(), "--set", "train.max_steps=8", "--set", "data.train.size=512",
                "--set", "data.eval.size=64", "--set", "train.batch_size=64");
        assertEquals(0, run.code(), run.err());
        Path runDir;
        try (Stream<Path> runs = Files.list(dir.resolve("runs/margin"))) {
            runDir = runs.findFirst().orElseThrow();
        }
        String records = Files.readString(runDir.resolve("records.jsonl"));
        assertTrue(records.contains("\"modalign.plugin.margin\":\"0.3.1\""), "the run records the plugin and its version");
        assertTrue(records.contains("\"losses.0.margin\":\"0.3\""), "the plugin's parameters are recorded");

        Cli.Result invalid = Cli.run("validate", experiment.toString(), "--plugin-dir", plugins.toString(),
                "--set", "losses.0.margin=-1");
        assertEquals(2, invalid.code());
        assertTrue(invalid.err().matches("(?s).*losses\\[0\\]\\.margin \\[margin-ranking\\] must be > 0, found -1\\.0.*"),
                invalid.err());
    }
}
