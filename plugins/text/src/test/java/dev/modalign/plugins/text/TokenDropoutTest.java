package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.TokenExample;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TokenDropoutTest extends AbstractAugmentationContractTest<TokenDropout.Params> {

    @Override
    protected ComponentFactory<TokenDropout.Params, Augmentation<?>> factory() {
        return TextPlugin.TOKEN_DROPOUT;
    }

    @Override
    protected TokenDropout.Params params() {
        return new TokenDropout.Params(0.1);
    }

    @Override
    protected Object example() {
        return new TokenExample(new int[] {1, 10, 11, 12, 13, 14, 15, 16, 17});
    }

    private static TokenDropout dropout(double p) {
        return new TokenDropout(new TokenDropout.Params(p), TestContext.builder().build());
    }

    @Test
    void keepsClsAndAtLeastOneRealTokenEvenAtPOne() {
        TokenExample example = new TokenExample(new int[] {1, 10, 11, 12});
        Set<Integer> survivors = new HashSet<>();
        for (int seed = 0; seed < 60; seed++) {
            int[] ids = dropout(1.0).apply(example, new Random(seed)).ids();
            assertEquals(2, ids.length, "CLS and exactly one real token");
            assertEquals(SpecialTokens.CLS, ids[0]);
            survivors.add(ids[1]);
        }
        assertEquals(Set.of(10, 11, 12), survivors, "the kept token should be drawn among all positions");
    }

    @Test
    void dropsAboutPOfTheTokensAndKeepsTheRestInOrder() {
        int[] ids = new int[2001];
        ids[0] = SpecialTokens.CLS;
        for (int i = 1; i < ids.length; i++) {
            ids[i] = SpecialTokens.FIRST_REAL + i;
        }
        int[] kept = dropout(0.1).apply(new TokenExample(ids), new Random(5)).ids();
        assertEquals(SpecialTokens.CLS, kept[0]);
        for (int i = 2; i < kept.length; i++) {
            assertTrue(kept[i] > kept[i - 1], "order changed at " + i);
        }
        int dropped = ids.length - kept.length;
        // Binomial(2000, 0.1): mean 200, standard deviation 13.4; 5 standard deviations either side.
        assertTrue(dropped > 133 && dropped < 267, "dropped " + dropped + " of 2000");
        assertArrayEquals(ids, dropout(0.0).apply(new TokenExample(ids), new Random(5)).ids());
    }
}
