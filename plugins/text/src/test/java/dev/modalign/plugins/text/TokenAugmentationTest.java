package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.TokenExample;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import java.util.Random;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class TokenAugmentationTest {

    static TokenExample sentence() {
        return new TokenExample(new int[] {Tokens.CLS, 10, 11, 12, 13, 14, 15, 16});
    }

    @Nested
    class Mask extends AbstractAugmentationContractTest<TokenMask.Params> {
        @Override
        protected ComponentFactory<TokenMask.Params, Augmentation<?>> factory() {
            return ComponentFactory.of("token-mask", "mask", TokenMask.Params.class, (p, c) -> new TokenMask(p));
        }

        @Override
        protected TokenMask.Params params() {
            return new TokenMask.Params(0.3);
        }

        @Override
        protected Object example() {
            return sentence();
        }

        @Test
        void neverMasksClsAndMasksAboutPOfTheRest() {
            TokenMask mask = new TokenMask(new TokenMask.Params(0.3));
            Random random = new Random(1);
            int masked = 0;
            for (int trial = 0; trial < 2000; trial++) {
                int[] ids = mask.apply(sentence(), random).ids();
                assertEquals(Tokens.CLS, ids[0]);
                for (int i = 1; i < ids.length; i++) {
                    masked += ids[i] == Tokens.MASK ? 1 : 0;
                }
            }
            double rate = masked / (2000.0 * 7);
            assertTrue(Math.abs(rate - 0.3) < 0.02, "masking rate " + rate);
        }
    }

    @Nested
    class Dropout extends AbstractAugmentationContractTest<TokenDropout.Params> {
        @Override
        protected ComponentFactory<TokenDropout.Params, Augmentation<?>> factory() {
            return ComponentFactory.of("token-dropout", "dropout", TokenDropout.Params.class, (p, c) -> new TokenDropout(p));
        }

        @Override
        protected TokenDropout.Params params() {
            return new TokenDropout.Params(0.3);
        }

        @Override
        protected Object example() {
            return sentence();
        }

        @Test
        void keepsOrderClsAndAtLeastOneRealToken() {
            TokenDropout dropAll = new TokenDropout(new TokenDropout.Params(1.0));
            for (int seed = 0; seed < 50; seed++) {
                int[] ids = dropAll.apply(sentence(), new Random(seed)).ids();
                assertEquals(2, ids.length, "CLS and one real token remain");
                assertEquals(Tokens.CLS, ids[0]);
                assertTrue(ids[1] >= 10 && ids[1] <= 16);
            }
            int[] some = new TokenDropout(new TokenDropout.Params(0.5)).apply(sentence(), new Random(3)).ids();
            for (int i = 2; i < some.length; i++) {
                assertTrue(some[i] > some[i - 1], "order is kept");
            }
        }
    }
}
