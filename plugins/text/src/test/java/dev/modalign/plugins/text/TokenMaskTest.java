package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.TokenExample;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TokenMaskTest extends AbstractAugmentationContractTest<TokenMask.Params> {

    @Override
    protected ComponentFactory<TokenMask.Params, Augmentation<?>> factory() {
        return TextPlugin.TOKEN_MASK;
    }

    @Override
    protected TokenMask.Params params() {
        return new TokenMask.Params(0.15);
    }

    @Override
    protected Object example() {
        return new TokenExample(new int[] {1, 10, 11, 12, 13, 14, 15, 16, 17});
    }

    private static TokenMask mask(double p) {
        return new TokenMask(new TokenMask.Params(p), TestContext.builder().build());
    }

    @Test
    void neverMasksCls() {
        TokenExample example = new TokenExample(new int[] {1, 10, 11, 12});
        for (int seed = 0; seed < 50; seed++) {
            int[] ids = mask(1.0).apply(example, new Random(seed)).ids();
            assertArrayEquals(new int[] {SpecialTokens.CLS, SpecialTokens.MASK, SpecialTokens.MASK, SpecialTokens.MASK},
                    ids);
            assertEquals(SpecialTokens.CLS, mask(0.5).apply(example, new Random(seed)).ids()[0]);
        }
    }

    @Test
    void masksAboutPOfTheRealTokens() {
        int[] ids = new int[2001];
        ids[0] = SpecialTokens.CLS;
        for (int i = 1; i < ids.length; i++) {
            ids[i] = SpecialTokens.FIRST_REAL + i;
        }
        int[] masked = mask(0.15).apply(new TokenExample(ids), new Random(3)).ids();
        int count = 0;
        for (int i = 1; i < masked.length; i++) {
            if (masked[i] == SpecialTokens.MASK) {
                count++;
            } else {
                assertEquals(ids[i], masked[i], "an unmasked token changed");
            }
        }
        // Binomial(2000, 0.15): mean 300, standard deviation 16; 5 standard deviations either side.
        assertTrue(count > 220 && count < 380, "masked " + count + " of 2000");
        assertArrayEquals(ids, mask(0.0).apply(new TokenExample(ids), new Random(3)).ids());
    }
}
