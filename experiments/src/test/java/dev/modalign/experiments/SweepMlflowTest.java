package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.modalign.testkit.PluginJars;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep of the quickstart into a real MLflow server: four trials (two configurations x two seeds),
 * one of which a third-party plugin makes fail; the runs are read back from the server.
 */
class SweepMlflowTest {

    /** A loss that adds nothing, and throws in the run whose seed is fail_seed: a plugin failing mid-sweep. */
    static final String FLAKY = """
            package org.example.flaky;

            import dev.modalign.api.*;
            import java.util.List;

            public final class FlakyPlugin implements Plugin {
                public String name() { return "flaky"; }
                public String version() { return "0.0.1"; }
                public String apiVersion() { return ModalignApi.VERSION; }

                public List<ComponentFactory<?, Loss>> losses() {
                    return List.of(ComponentFactory.of("flaky", "Adds 0; throws in the run whose seed is fail_seed.",
                            FlakyLoss.Params.class, FlakyLoss::new));
                }

                public static final class FlakyLoss implements Loss {
                    public record Params(@Doc("The seed of the run to fail (-1: none).") @Default("-1") long failSeed) {}

                    private final boolean fail;
                    private final String tower;

                    FlakyLoss(Params params, ComponentContext context) {
                        this.fail = params.failSeed() == context.seed();
                        this.tower = context.towers().get(0);
                    }

                    public LossOutput compute(EncodedBatch batch, StepContext context) {
                        if (fail) {
                            throw new IllegalStateException("flaky: told to fail in this run");
                        }
                        return new LossOutput(Scalars.mul(batch.tower(tower).embedding().sum(), 0));
                    }
                }
            }
            """;

    static MlflowServer server;

    @TempDir
    Path dir;

    @BeforeAll
    static void startServer() throws Exception {
        server = MlflowServer.start();
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.stop();
    }

    @Test
    void threeTrialsFinishOneFailsAndTheParentCarriesTheAggregates() throws Exception {
        Path plugins = Files.createDirectories(dir.resolve("plugins"));
        PluginJars.compile(plugins.resolve("flaky.jar"), Map.of("org.example.flaky.FlakyPlugin", FLAKY),
                PluginJars.serviceEntry("org.example.flaky.FlakyPlugin"));
        String experiment = "sweep-" + UUID.randomUUID();
        String quickstart = Files.readString(Cli.repo().resolve("experiments/quickstart.yaml"));
        Path file = Files.writeString(dir.resolve("sweep.yaml"), quickstart.replace(
                "  - {type: clip, towers: [image, text], temperature: 0.07, learnable: true}",
                "  - {type: clip, towers: [image, text], temperature: 0.07, learnable: true}\n"
                        + "  - {type: flaky, towers: [image, text]}") + """
                sweep:
                  grid: {losses.1.fail_seed: [-1, 2]}
                  seeds: [1, 2]
                  parallel: 2
                """);

        Cli.Result sweep = Cli.run("run", file.toString(), "--tracking-uri", server.uri(), "--plugin-dir", plugins.toString(),
                "--set", "tracking.experiment=" + experiment, "--set", "data.train.size=512", "--set", "train.max_steps=6",
                "--set", "train.batch_size=64", "--set", "data.eval.size=64");
        assertEquals(1, sweep.code(), "a failed trial makes the sweep's exit code 1:\n" + sweep.out() + sweep.err());
        assertTrue(sweep.out().contains("3 of 4 trials finished, 1 failed"), sweep.out());

        JsonObject parent = null;
        List<JsonObject> children = new ArrayList<>();
        for (JsonElement element : server.runsOf(experiment)) {
            JsonObject run = element.getAsJsonObject();
            if (MlflowServer.entries(run, "tags").containsKey("mlflow.parentRunId")) {
                children.add(run);
            } else {
                assertEquals(null, parent, "one parent");
                parent = run;
            }
        }
        assertEquals(4, children.size());
        String parentId = parent.getAsJsonObject("info").get("run_id").getAsString();
        assertEquals("FINISHED", parent.getAsJsonObject("info").get("status").getAsString());
        int failed = 0;
        List<Double> cleanR1 = new ArrayList<>();
        for (JsonObject child : children) {
            assertEquals(parentId, MlflowServer.entries(child, "tags").get("mlflow.parentRunId"));
            Map<String, String> params = MlflowServer.entries(child, "params");
            String status = child.getAsJsonObject("info").get("status").getAsString();
            if (status.equals("FAILED")) {
                failed++;
                assertEquals("2", params.get("seed"));
                assertEquals("2", params.get("losses.1.fail_seed"));
            } else {
                assertEquals("FINISHED", status);
                if (params.get("losses.1.fail_seed").equals("-1")) {
                    cleanR1.add(Double.parseDouble(MlflowServer.entries(child, "metrics")
                            .get("eval/retrieval/image_to_text/R_at_1")));
                }
            }
        }
        assertEquals(1, failed);
        assertEquals(2, cleanR1.size());

        Map<String, String> aggregates = MlflowServer.entries(parent, "metrics");
        String key = "losses.1.fail_seed:-1/eval/retrieval/image_to_text/R_at_1";
        assertEquals((cleanR1.get(0) + cleanR1.get(1)) / 2, Double.parseDouble(aggregates.get(key + "/mean")), 1e-9);
        assertEquals(Math.abs(cleanR1.get(0) - cleanR1.get(1)) / Math.sqrt(2), Double.parseDouble(aggregates.get(key + "/std")),
                1e-9);
        assertEquals("1.0", aggregates.get("losses.1.fail_seed:2/eval/retrieval/image_to_text/R_at_1/n"));
        assertEquals("3.0", aggregates.get("sweep/trials_finished"));
        assertEquals("1.0", aggregates.get("sweep/trials_failed"));

        // The parent trained nothing: rerunning it says what to rerun instead.
        Cli.Result rerun = Cli.run("rerun", parentId, "--tracking-uri", server.uri());
        assertEquals(2, rerun.code(), rerun.out() + rerun.err());
        assertTrue(rerun.err().contains("is a sweep's parent run") && rerun.err().contains("modalign rerun TRIAL_RUN_ID"),
                rerun.err());
    }
}
