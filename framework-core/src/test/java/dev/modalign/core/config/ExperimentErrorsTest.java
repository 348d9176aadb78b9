package dev.modalign.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.core.Experiments;
import dev.modalign.core.UserError;
import dev.modalign.core.compose.RunComposer;
import dev.modalign.core.plugin.PluginLoader;
import dev.modalign.core.plugin.PluginRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Golden tests of what a user reads for a broken experiment file: every problem at its file, line
 * and column, with its key path, its component, what was found and what would fix it.
 */
class ExperimentErrorsTest {

    static PluginRegistry registry;

    @TempDir
    Path dir;

    @BeforeAll
    static void loadPlugins() {
        registry = PluginLoader.load(List.of());
    }

    private List<String> problems(String yaml) {
        Path file = Experiments.write(dir, "bad.yaml", yaml);
        UserError error = assertThrows(UserError.class, () -> new RunComposer(registry, dir).compose(file));
        return error.problems().stream().map(p -> p.render().replace(dir.toString() + "/", "")).toList();
    }

    @Test
    void theTinyExperimentComposes() {
        Path file = Experiments.write(dir, "tiny.yaml", Experiments.TINY);
        assertEquals(2, new RunComposer(registry, dir).compose(file).towers().size());
    }

    @Test
    void aMomentumTowerMustCopyAnotherTowerOfTheSameEncoder() {
        String line = "  b: {modality: {type: vector, size: 8}, encoder: linear}\n";
        String unknown = Experiments.TINY.replace(line, line
                + "  a_m: {modality: {type: vector, size: 8}, encoder: linear, momentum_of: c}\n");
        assertEquals(List.of("bad.yaml:9:74 towers.a_m.momentum_of no other tower 'c' to be the momentum copy of; towers:"
                + " a, b, a_m"), problems(unknown));
        String otherEncoder = Experiments.TINY.replace(line, line
                + "  a_m: {modality: {type: vector, size: 8}, encoder: {type: linear, embed_dim: 4}, momentum_of: a}\n");
        List<String> mismatch = problems(otherEncoder);
        assertEquals(1, mismatch.size(), mismatch.toString());
        assertTrue(mismatch.get(0).startsWith("bad.yaml:9:96 towers.a_m.momentum_of the momentum copy must have the encoder"
                + " of tower 'a'"), mismatch.get(0));
        String badMomentum = Experiments.TINY.replace(line, line
                + "  a_m: {modality: {type: vector, size: 8}, encoder: linear, momentum_of: a, momentum: 1.0}\n");
        assertTrue(problems(badMomentum).get(0).contains("towers.a_m.momentum must be in [0, 1)"),
                problems(badMomentum).toString());
    }

    @Test
    void misspeltParameterNamesTheLineKeyComponentAndTheClosestName() {
        String yaml = Experiments.TINY.replace("temperature: 0.5", "temprature: 0.5");
        assertEquals(List.of("bad.yaml:10:35 losses[0].temprature [align] unknown key 'temprature', did you mean 'temperature'?"),
                problems(yaml));
    }

    @Test
    void wrongTypeSaysWhatWasExpectedAndFound() {
        String yaml = Experiments.TINY.replace("epochs: 3", "epochs: many");
        assertEquals(List.of("bad.yaml:11:17 train.epochs expected an integer, found 'many'"), problems(yaml));
    }

    @Test
    void unknownComponentSuggestsTheClosestKnownOnes() {
        String yaml = Experiments.TINY.replace("type: align", "type: alignn");
        assertEquals(List.of("bad.yaml:10:5 losses[0] unknown loss 'alignn', did you mean 'align'?; known: align"),
                problems(yaml));
    }

    @Test
    void unknownTowerInALossIsNamedWithTheTowersThereAre() {
        String yaml = Experiments.TINY.replace("towers: [a, b], temperature", "towers: [a, c], temperature");
        assertEquals(List.of("bad.yaml:10:27 losses[0].towers [align] no tower 'c'; towers: a, b"), problems(yaml));
    }

    @Test
    void invalidValueIsReportedByTheComponentsOwnValidation() {
        String yaml = Experiments.TINY.replace("temperature: 0.5", "temperature: -1");
        assertEquals(List.of("bad.yaml:10:48 losses[0].temperature [align] must be > 0, found -1.0"), problems(yaml));
    }

    @Test
    void missingRequiredKeyIsNamedWithItsDescription() {
        String yaml = Experiments.TINY.replace("{type: vector, size: 8}, encoder: linear", "{type: vector}, encoder: linear");
        assertEquals(List.of("bad.yaml:8:17 towers.b.modality.size [vector] missing key 'size': Vector length."),
                problems(yaml));
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        String yaml = Experiments.TINY.replace("epochs: 3", "epochs: many").replace("type: align", "type: alignn")
                .replace("seed: 3", "sede: 3");
        List<String> problems = problems(yaml);
        assertEquals(List.of("bad.yaml:2:1 sede unknown key 'sede', did you mean 'seed'?",
                "bad.yaml:11:17 train.epochs expected an integer, found 'many'",
                "bad.yaml:10:5 losses[0] unknown loss 'alignn', did you mean 'align'?; known: align"), problems);
    }

    @Test
    void yamlSyntaxErrorsAreLocated() {
        List<String> problems = problems("name: x\ntowers: {a: [1, 2}\n");
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).startsWith("bad.yaml:2:18 YAML syntax:"), problems.get(0));
    }

    @Test
    void tagsThatNameJavaClassesAreRefusedAndNothingIsConstructed() {
        String yaml = Experiments.TINY.replace("name: tiny", "name: !!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://127.0.0.1/x\"]]]]");
        List<String> problems = problems(yaml);
        assertEquals(List.of("bad.yaml:1:7 YAML syntax: tags that name Java classes are not allowed (tag:yaml.org,2002:javax.script.ScriptEngineManager); write a plain value"),
                problems);
    }

    @Test
    void aliasBombsFailFast() {
        String bomb = """
                a: &a ["x","x","x","x","x","x","x","x","x"]
                b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
                c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
                d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
                e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
                f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
                """;
        List<String> problems = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> problems(bomb));
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).contains("aliases"), problems.get(0));
    }

    @Test
    void aSuggestionIsOfferedForAMisspeltTopLevelSection() {
        String yaml = Experiments.TINY.replace("losses:", "loses:");
        List<String> problems = problems(yaml);
        assertEquals(List.of("bad.yaml:9:1 loses unknown key 'loses', did you mean 'losses'?",
                "bad.yaml:1:1 losses missing key 'losses': Losses, added by weight."), problems);
    }
}
