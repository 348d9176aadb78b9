package dev.modalign.core.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.core.UserError;
import dev.modalign.core.config.Binder;
import dev.modalign.core.config.SweepSpec;
import dev.modalign.core.config.YamlDocument;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How a sweep block expands into trials. */
class SweepPlanTest {

    private static List<Trial> expand(String yaml) {
        Binder binder = new Binder("sweep.yaml");
        SweepSpec spec = (SweepSpec) binder.bind(YamlDocument.parse(yaml, "sweep.yaml"), SweepSpec.class, "sweep", null);
        binder.throwIfProblems();
        return SweepPlan.expand(spec, "sweep.yaml");
    }

    @Test
    void gridTimesSeedsWithTheLastAxisFastest() {
        List<Trial> trials = expand("""
                grid: {losses.0.type: [clip, siglip], train.optimizer.lr: [1e-3, '2e-3']}
                seeds: [1, 2]
                """);
        assertEquals(8, trials.size());
        assertEquals(List.of("losses.0.type=clip", "train.optimizer.lr=1e-3", "seed=1"), trials.get(0).setArguments());
        assertEquals(List.of("losses.0.type=clip", "train.optimizer.lr=1e-3", "seed=2"), trials.get(1).setArguments());
        assertEquals(List.of("losses.0.type=clip", "train.optimizer.lr='2e-3'", "seed=1"), trials.get(2).setArguments(),
                "a quoted value stays a string");
        assertEquals("losses.0.type=siglip train.optimizer.lr='2e-3'", trials.get(7).group());
        assertEquals(8, trials.get(7).index());
    }

    @Test
    void wholeComponentsAreNamedByTheirType() {
        List<Trial> trials = expand("""
                grid:
                  losses.0:
                    - {type: clip, towers: [image, text], temperature: 0.07}
                    - {type: siglip, towers: [image, text], bias: -10}
                """);
        assertEquals(List.of("losses.0={type: siglip, towers: [image, text], bias: -10}"), trials.get(1).setArguments());
        assertEquals("losses.0=siglip", trials.get(1).group());
    }

    @Test
    void aSeedAxisOfTheGridIsTheSeeds() {
        List<Trial> trials = expand("grid: {seed: [5, 6, 7], losses.0.temperature: [0.1]}");
        assertEquals(3, trials.size());
        assertEquals(7L, trials.get(2).seed());
        assertEquals("losses.0.temperature=0.1", trials.get(2).group(), "seeds are not part of the configuration");
    }

    @Test
    void randomDrawsAreSeededAndInRange() {
        String yaml = """
                random:
                  trials: 50
                  seed: 4
                  params:
                    train.optimizer.lr: {log_uniform: [1e-4, 1e-2]}
                    train.warmup: {uniform: [0.0, 0.1]}
                    train.batch_size: {int: [16, 18]}
                    losses.0.type: [clip, siglip]
                """;
        List<Trial> trials = expand(yaml);
        assertEquals(50, trials.size());
        assertEquals(trials, expand(yaml), "the same seed draws the same trials");
        java.util.Set<String> batches = new java.util.TreeSet<>();
        java.util.Set<String> types = new java.util.TreeSet<>();
        for (Trial trial : trials) {
            double lr = Double.parseDouble(trial.assignments().get("train.optimizer.lr"));
            double warmup = Double.parseDouble(trial.assignments().get("train.warmup"));
            assertTrue(lr >= 1e-4 && lr <= 1e-2 && warmup >= 0 && warmup < 0.1, trial.label());
            batches.add(trial.assignments().get("train.batch_size"));
            types.add(trial.assignments().get("losses.0.type"));
        }
        assertEquals(java.util.Set.of("16", "17", "18"), batches, "int bounds are inclusive");
        assertEquals(java.util.Set.of("clip", "siglip"), types);
    }

    @Test
    void aBadDistributionIsLocated() {
        UserError error = assertThrows(UserError.class, () -> expand("""
                random:
                  trials: 2
                  params:
                    train.optimizer.lr: {normal: [0, 1]}
                """));
        String message = error.getMessage();
        assertTrue(message.startsWith("sweep.yaml:4:26 sweep.random.params.train.optimizer.lr [sweep] unknown distribution 'normal'"),
                message);
    }

    @Test
    void nothingToVaryIsAnError() {
        UserError error = assertThrows(UserError.class, () -> expand("parallel: 2"));
        assertTrue(error.getMessage().contains("nothing to vary"), error.getMessage());
    }
}
