package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.testkit.TestContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prints how many captions per second each tokenizer turns into ids on one thread (decode, as a
 * loader thread calls it). A measurement to read, not a bound to hold: the only assertion is that
 * every caption gave ids.
 */
class TokenizationThroughputTest {

    private static final int CAPTIONS = 20_000;

    @TempDir
    Path dir;

    @Test
    void printsCaptionsPerSecondOfEachTokenizer() {
        List<String> captions = captions(new Random(7));
        Map<String, TextModality> modalities = new LinkedHashMap<>();
        TestContext context = TestContext.builder().build();
        modalities.put("word", new TextModality(new TextModality.Params(TextModality.TokenizerKind.WORD, 32, 4096, true),
                context));
        modalities.put("bytes", new TextModality(new TextModality.Params(TextModality.TokenizerKind.BYTES, 32, 4096, true),
                context));
        modalities.put("hf (18-token WordPiece fixture)",
                new TextModality(TextModality.Params.hf(HfTextModalityTest.fixture().toString(), 32, true), context));
        Optional<Path> miniLm = MiniLmTokenizerFile.extractTo(dir);
        miniLm.ifPresent(file -> modalities.put("hf (all-MiniLM-L6-v2, BERT uncased 30522)",
                new TextModality(TextModality.Params.hf(file.toString(), 32, true), context)));
        for (Map.Entry<String, TextModality> entry : modalities.entrySet()) {
            TextModality modality = entry.getValue();
            run(modality, captions.subList(0, 2_000)); // warm-up: JIT, native library
            long start = System.nanoTime();
            long ids = run(modality, captions);
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(ids >= CAPTIONS, entry.getKey() + " gave no ids for some captions");
            System.out.printf(Locale.ROOT, "tokenisation throughput, %s: %,.0f captions/s (%.1f ids per caption)%n",
                    entry.getKey(), CAPTIONS / seconds, ids / (double) CAPTIONS);
        }
        if (miniLm.isEmpty()) {
            System.out.println("tokenisation throughput, hf (all-MiniLM-L6-v2): " + MiniLmTokenizerFile.MISSING);
        }
    }

    private static long run(TextModality modality, List<String> captions) {
        long ids = 0;
        for (String caption : captions) {
            ids += modality.decode(caption, "bench").ids().length;
        }
        return ids;
    }

    /** Captions like those of the shapes data set: "a small red circle in the top left corner". */
    private static List<String> captions(Random random) {
        String[] sizes = {"small", "large", "tiny", "big"};
        String[] colours = {"red", "green", "blue", "yellow", "purple", "orange"};
        String[] shapes = {"circle", "square", "triangle", "star"};
        String[] places = {"top left", "top right", "bottom left", "bottom right", "centre"};
        List<String> captions = new ArrayList<>(CAPTIONS);
        for (int i = 0; i < CAPTIONS; i++) {
            captions.add("A " + sizes[random.nextInt(sizes.length)] + " " + colours[random.nextInt(colours.length)] + " "
                    + shapes[random.nextInt(shapes.length)] + " in the " + places[random.nextInt(places.length)]
                    + " corner of the picture, on a plain background.");
        }
        return captions;
    }
}
