package dev.modalign.plugins.moco;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Contriever's crop: one contiguous span of the real tokens, of a length within the ratios, specials kept. */
class ContrieverCropTest extends AbstractAugmentationContractTest<ContrieverCrop.Params> {

    /** PAD 0, MASK 1, CLS 2, SEP 3. */
    private static final TokenSpec SPEC = new TokenSpec(100, 64, 0, 1, Set.of(0, 1, 2, 3));

    @Override
    protected ComponentFactory<ContrieverCrop.Params, Augmentation<?>> factory() {
        return MocoPlugin.CONTRIEVER_CROP;
    }

    @Override
    protected ContrieverCrop.Params params() {
        return new ContrieverCrop.Params(0.3, 0.8);
    }

    @Override
    protected Object example() {
        return new TokenExample(new int[] {2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 3});
    }

    private static ContrieverCrop crop(double min, double max) {
        return new ContrieverCrop(new ContrieverCrop.Params(min, max), TestContext.builder().optInput(SPEC).build());
    }

    @Test
    void aViewIsOneContiguousSpanWithinTheRatiosBetweenTheSpecialIds() {
        int[] ids = new int[22];
        ids[0] = 2;
        for (int i = 1; i <= 20; i++) {
            ids[i] = 10 + i;
        }
        ids[21] = 3;
        Set<Integer> starts = new HashSet<>();
        Set<Integer> lengths = new HashSet<>();
        for (int seed = 0; seed < 300; seed++) {
            int[] view = crop(0.25, 0.5).apply(new TokenExample(ids), new Random(seed * 0x9E3779B97F4A7C15L + 12345)).ids();
            assertEquals(2, view[0], "CLS stays first");
            assertEquals(3, view[view.length - 1], "SEP stays last");
            int length = view.length - 2;
            assertTrue(length >= 5 && length <= 10, "span of " + length + " tokens of 20 at ratios [0.25, 0.5]");
            for (int i = 2; i <= length; i++) {
                assertEquals(view[i - 1] + 1, view[i], "contiguous: " + Arrays.toString(view));
            }
            starts.add(view[1]);
            lengths.add(length);
        }
        assertEquals(6, lengths.size(), "every length from 5 to 10 is drawn");
        assertEquals(16, starts.size(), "every start from the first token to the last that fits is drawn (11..26)");
    }

    @Test
    void queryAndKeyDrawnWithTheirOwnGeneratorsAreIndependentSpans() {
        TokenExample text = (TokenExample) example();
        ContrieverCrop crop = crop(0.3, 0.6);
        int differ = 0;
        for (int record = 0; record < 50; record++) {
            // The host gives each tower of a record its own generator (seed, epoch, index, tower).
            int[] query = crop.apply(text, new Random((2L * record + 1) * 0x9E3779B97F4A7C15L)).ids();
            int[] key = crop.apply(text, new Random((2L * record + 2) * 0x9E3779B97F4A7C15L)).ids();
            differ += Arrays.equals(query, key) ? 0 : 1;
        }
        assertTrue(differ > 35, "query and key views should mostly differ, " + differ + " of 50 did");
    }

    @Test
    void aTextOfOneTokenIsLeftAsItIs() {
        TokenExample one = new TokenExample(new int[] {2, 42, 3});
        assertEquals(one, crop(0.1, 0.5).apply(one, new Random(1)));
        TokenExample none = new TokenExample(new int[] {2, 3});
        assertEquals(none, crop(0.1, 0.5).apply(none, new Random(1)));
    }

    @Test
    void rejectsRatiosByTheirKeys() {
        assertEquals("min_ratio", assertThrows(InvalidParamException.class, () -> new ContrieverCrop.Params(0, 1)).key());
        assertEquals("max_ratio", assertThrows(InvalidParamException.class,
                () -> new ContrieverCrop.Params(0.5, 0.4)).key());
        assertNotEquals(null, new ContrieverCrop.Params(1, 1));
    }
}
