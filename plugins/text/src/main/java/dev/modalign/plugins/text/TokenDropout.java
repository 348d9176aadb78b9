package dev.modalign.plugins.text;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import java.util.Arrays;
import java.util.Random;

/**
 * Drops each real token, independently with probability {@code p}, shortening the sequence: the
 * word deletion of "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
 * Classification" (Wei and Zou, 2019, "Random Deletion"). Special ids (CLS) always stay. When every
 * real token would be dropped, one of them, chosen at random, is kept, so that a view never loses
 * all of its text.
 */
public final class TokenDropout implements Augmentation<TokenExample> {

    /** @param p the probability that each real token is dropped */
    public record Params(
            @Doc("Probability that each real token (never CLS) is dropped; at least one real token is kept")
            @Default("0.1") double p) {

        public Params {
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be a probability in [0, 1], found " + p + "; EDA uses 0.1");
            }
        }
    }

    private final double p;
    /** The text modality's ids: which are special, and MASK's; the built-in tokenizers' when not told. */
    private final TokenSpec spec;

    public TokenDropout(Params params, ComponentContext context) {
        this.p = params.p();
        this.spec = context.input() instanceof TokenSpec tokens ? tokens
                : new TokenSpec(Integer.MAX_VALUE, Integer.MAX_VALUE, SpecialTokens.PAD, SpecialTokens.MASK, SpecialTokens.ALL);
    }

    @Override
    public Class<TokenExample> exampleType() {
        return TokenExample.class;
    }

    @Override
    public TokenExample apply(TokenExample example, Random rng) {
        int[] ids = example.ids();
        boolean[] dropped = new boolean[ids.length];
        int realTokens = 0;
        int keptRealTokens = 0;
        for (int i = 0; i < ids.length; i++) {
            if (spec.isText(ids[i])) {
                realTokens++;
                dropped[i] = rng.nextDouble() < p;
                keptRealTokens += dropped[i] ? 0 : 1;
            }
        }
        if (realTokens > 0 && keptRealTokens == 0) {
            // Keep the k-th real token, k uniform, so that no position is favoured.
            int keep = rng.nextInt(realTokens);
            for (int i = 0; i < ids.length; i++) {
                if (spec.isText(ids[i]) && keep-- == 0) {
                    dropped[i] = false;
                    break;
                }
            }
        }
        int[] kept = new int[ids.length];
        int length = 0;
        for (int i = 0; i < ids.length; i++) {
            if (!dropped[i]) {
                kept[length++] = ids[i];
            }
        }
        return new TokenExample(Arrays.copyOf(kept, length));
    }
}
