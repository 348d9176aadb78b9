package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed and hostile experiment files through the command line: each gives exit code 2 and a readable,
 * located message, never a stack trace, never a hang, never a constructed class. (Experiments have no
 * stages that could depend on each other; the cycles a file can hold are YAML anchors used inside
 * themselves, which are here.)
 */
class HostileInputTest {

    @TempDir
    Path dir;

    /** A marker a constructed class would leave behind; nothing may ever create it. */
    static final String MARKER = "modalign-hostile-marker";

    static Stream<Arguments> corpus() {
        String valid = """
                name: ok
                data:
                  train: {source: shapes, size: 64}
                towers:
                  image: {modality: {type: image, size: 16}, encoder: mlp}
                  text: {modality: text, encoder: mlp}
                losses:
                  - {type: clip, towers: [image, text]}
                """;
        StringBuilder deep = new StringBuilder("name: deep\nx: ");
        for (int i = 0; i < 5000; i++) {
            deep.append('[');
        }
        StringBuilder wide = new StringBuilder("name: wide\nextra:\n");
        for (int i = 0; i < 200_000; i++) {
            wide.append("  k").append(i).append(": ").append(i).append('\n');
        }
        return Stream.of(
                hostile("empty file", "", "empty"),
                hostile("a list instead of a mapping", "- a\n- b\n", "mapping"),
                hostile("a scalar document", "just words\n", "mapping"),
                hostile("unclosed flow mapping", "name: x\ntowers: {image: {modality: image\n", "hostile.yaml:3:1 YAML syntax"),
                hostile("tab indentation", "name: x\ntowers:\n\timage: {}\n", "hostile.yaml:3:1 YAML syntax"),
                hostile("duplicate key", valid + "name: again\n", "name"),
                hostile("unknown top-level section", valid + "trian: {epochs: 1}\n", "train"),
                hostile("no towers", "name: x\ndata:\n  train: {source: shapes, size: 64}\nlosses: []\n", "towers"),
                hostile("loss names a missing tower", valid.replace("towers: [image, text]", "towers: [image, audio]"),
                        "audio"),
                hostile("wrong type for a number", valid + "train: {epochs: many}\n", "epochs"),
                hostile("negative batch", valid + "train: {batch_size: -3}\n", "batch_size"),
                hostile("java class tag", valid + "evil: !!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[]]]\n",
                        "hostile.yaml:9:7 YAML syntax: tags that name Java classes are not allowed"),
                hostile("java class tag on a value", "name: !!java.io.File [\"/tmp/" + MARKER + "\"]\n", "Java classes are not allowed"),
                hostile("alias bomb", """
                        name: bomb
                        a: &a ["x","x","x","x","x","x","x","x","x"]
                        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
                        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
                        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
                        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
                        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
                        g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
                        """, "alias"),
                hostile("deeply nested", deep.toString(), "nesting depth"),
                hostile("huge document", wide.toString(), "larger than 1000000 characters"),
                hostile("binary garbage", new String(new byte[] {0, 1, 2, (byte) 0xff, (byte) 0xfe, 0x1b, 0x7f},
                        StandardCharsets.ISO_8859_1), "is not UTF-8 text"),
                hostile("unknown component", valid.replace("type: clip,", "type: clipp,"),
                        "hostile.yaml:8:5 losses[0] unknown loss 'clipp', did you mean 'clip'?"),
                hostile("unknown key in a component", valid.replace("encoder: mlp}\n  text", "encoder: {type: mlp, hiden: 3}}\n  text"),
                        "towers.image.encoder.hiden [mlp] unknown key 'hiden', did you mean 'hidden'?"),
                hostile("wrong type in a component", valid.replace("size: 16}", "size: sixteen}"),
                        "towers.image.modality.size [image] expected an integer, found 'sixteen'"),
                hostile("a list where a number goes", valid + "train: {optimizer: {lr: [1, 2]}}\n",
                        "train.optimizer.lr expected a number, found a list"),
                hostile("a tower a loss needs is missing", valid.replace("  text: {modality: text, encoder: mlp}\n", ""),
                        "losses[0].towers [clip] no tower 'text'; towers: image"),
                hostile("a loss without towers", valid.replace(", towers: [image, text]", ""),
                        "losses[0].towers missing key 'towers'"),
                // An alias inside the value its anchor names composes to a cycle: it once overflowed the stack.
                hostile("an anchor used inside itself", valid + "tracking: {options: &o {x: *o}}\n",
                        "hostile.yaml:9:21 YAML syntax: the anchor &o is used inside the value it names"),
                hostile("a cycle through a list", valid + "augment: &g {image: [*g]}\n", "a cycle"),
                hostile("a key that contains itself", valid + "x: &k {*k: 1}\n", "a cycle"),
                hostile("a custom tag", valid.replace("name: ok", "name: !custom ok"), "tags are not allowed here, found !custom"),
                hostile("a java class tag in long form", valid.replace("name: ok", "name: !<tag:yaml.org,2002:java.lang.Runtime> ok"),
                        "tags that name Java classes are not allowed"));
    }

    private static Arguments hostile(String name, String yaml, String fragment) {
        return Arguments.of(Named.of(name, yaml), fragment);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void givesALocatedErrorWithExitTwoAndNoStackTrace(String yaml, String fragment) throws IOException {
        Path file = Files.writeString(dir.resolve("hostile.yaml"), yaml, StandardCharsets.ISO_8859_1);
        String[][] commands = {{"validate", file.toString()},
            {"run", file.toString(), "--runs-dir", dir.resolve("runs").toString()}};
        for (String[] args : commands) {
            String command = args[0];
            Cli.Result result = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> Cli.run(args));
            assertEquals(2, result.code(), command + ": " + result.out() + result.err());
            assertTrue(result.err().contains("hostile.yaml"), "names the file: " + result.err());
            assertTrue(result.err().toLowerCase().contains(fragment.toLowerCase()), "mentions '" + fragment + "': "
                    + result.err());
            assertFalse(result.err().contains("\tat ") || result.err().contains("Exception in thread"),
                    "no stack trace: " + result.err());
            assertTrue(result.err().length() < 4000, "a readable message, not a dump: " + result.err().length() + " chars");
        }
        assertFalse(Files.exists(Path.of("/tmp/" + MARKER)), "a YAML tag constructed a Java object");
    }
}
