package dev.modalign.plugins.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenExample;
import dev.modalign.plugins.text.TextModality;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** all-MiniLM-L6-v2 (from its Maven Central jar) as a frozen text tower. */
class OnnxTextEncoderTest {

    @TempDir
    static Path dir;

    static TextModality modality;
    static OnnxTextEncoder encoder;

    @BeforeAll
    static void load() throws IOException {
        copy("all-minilm-l6-v2.onnx", dir.resolve("model.onnx"));
        copy("all-minilm-l6-v2-tokenizer.json", dir.resolve("tokenizer.json"));
        TestContext base = TestContext.builder().optBaseDir(dir).optCacheDir(dir.resolve("cache")).build();
        modality = new TextModality(TextModality.Params.hf("tokenizer.json", 32, true), base);
        encoder = new OnnxTextEncoder(new OnnxTextEncoder.Params("model.onnx", "mean", 1000, 1, false),
                TestContext.builder().optBaseDir(dir).optInput(modality.spec()).build());
    }

    private static void copy(String resource, Path target) throws IOException {
        try (InputStream in = OnnxTextEncoderTest.class.getResourceAsStream("/" + resource)) {
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static float[][] embed(String... texts) {
        try (NDManager manager = NDManager.newBaseManager()) {
            List<TokenExample> examples = new ArrayList<>();
            for (String text : texts) {
                examples.add(modality.decode(text, "test"));
            }
            NDList batch = modality.collate(examples, manager);
            NDArray out = encoder.block().forward(new ParameterStore(manager, false), batch, false).get(0);
            assertEquals(texts.length, out.getShape().get(0));
            float[] flat = out.toFloatArray();
            float[][] rows = new float[texts.length][encoder.embedDim()];
            for (int i = 0; i < texts.length; i++) {
                System.arraycopy(flat, i * encoder.embedDim(), rows[i], 0, encoder.embedDim());
            }
            return rows;
        }
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    @Test
    void thePretrainedModelKnowsWhatSentencesMean() {
        assertEquals(384, encoder.embedDim());
        float[][] e = embed("a dog runs across the park", "a puppy is running on the grass", "the stock market fell today",
                "interest rates and share prices dropped");
        assertTrue(cosine(e[0], e[1]) > cosine(e[0], e[2]) + 0.3, "dog ~ puppy: " + cosine(e[0], e[1]) + " vs "
                + cosine(e[0], e[2]));
        assertTrue(cosine(e[2], e[3]) > cosine(e[2], e[1]) + 0.2, "markets ~ prices");
        assertTrue(encoder.block().getParameters().isEmpty(), "nothing to train: the tower is frozen by construction");
    }

    @Test
    void aSentenceEmbedsTheSameWhateverElseIsInItsBatchAndIsComputedOnce() {
        float[] alone = embed("a red circle")[0];
        int before = encoder.cached();
        float[] padded = embed("a red circle", "a much longer sentence that pads the first one with many tokens")[0];
        assertArrayEquals(alone, padded, "padding never changes a sequence's embedding (it comes from the cache)");
        assertEquals(before + 1, encoder.cached(), "only the new sentence was computed");

        OnnxTextEncoder uncached = new OnnxTextEncoder(new OnnxTextEncoder.Params("model.onnx", "mean", 0, 1),
                TestContext.builder().optBaseDir(dir).optInput(modality.spec()).build());
        float[][] fresh = uncached.embed(new int[][] {toIds("a red circle")});
        for (int d = 0; d < alone.length; d++) {
            assertEquals(alone[d], fresh[0][d], 1e-5, "computed again without the cache, dimension " + d);
        }
    }

    private static int[] toIds(String text) {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList batch = modality.collate(List.of(modality.decode(text, "test")), manager);
            float[] mask = batch.get(1).toFloatArray();
            int[] ids = batch.get(0).toType(ai.djl.ndarray.types.DataType.INT32, false).toIntArray();
            int real = 0;
            while (real < mask.length && mask[real] > 0) {
                real++;
            }
            return java.util.Arrays.copyOf(ids, real);
        }
    }

    @Test
    void embeddingsKeptOnDiskAreReusedByTheNextRun() {
        TestContext context = TestContext.builder().optBaseDir(dir).optCacheDir(dir.resolve("cache")).optInput(modality.spec())
                .build();
        OnnxTextEncoder first = new OnnxTextEncoder(new OnnxTextEncoder.Params("model.onnx", "mean", 1000, 1), context);
        float[][] computed = first.embed(new int[][] {toIds("a frog on a log"), toIds("a green frog")});
        OnnxTextEncoder second = new OnnxTextEncoder(new OnnxTextEncoder.Params("model.onnx", "mean", 1000, 1), context);
        assertEquals(2, second.cached(), "the second run starts with the first one's embeddings");
        assertArrayEquals(computed[1], second.embed(new int[][] {toIds("a green frog")})[0]);
        OnnxTextEncoder first8 = new OnnxTextEncoder(new OnnxTextEncoder.Params("model.onnx", "first", 1000, 1), context);
        assertEquals(0, first8.cached(), "another pooling never reads them");
    }

    @Test
    void aMissingModelSaysHowToGetIt() {
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> new OnnxTextEncoder(
                new OnnxTextEncoder.Params("nowhere.onnx", "mean", 10, 1),
                TestContext.builder().optBaseDir(dir).optInput(modality.spec()).build()));
        assertTrue(error.getMessage().contains("scripts/prepare-data minilm"), error.getMessage());
    }
}
