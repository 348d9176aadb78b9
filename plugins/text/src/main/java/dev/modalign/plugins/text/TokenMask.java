package dev.modalign.plugins.text;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import java.util.Random;

/**
 * Replaces each real token, independently with probability {@code p}, by MASK: the input corruption
 * of masked language modelling (Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
 * for Language Understanding", 2019, Section 3.1, which masks 15%), used here as a text view
 * augmentation. CLS, padding and other special ids are never replaced, so an encoder that pools at
 * CLS always finds it.
 */
public final class TokenMask implements Augmentation<TokenExample> {

    /** @param p the probability that each real token is masked */
    public record Params(
            @Doc("Probability that each real token (never CLS) is replaced by MASK") @Default("0.15") double p) {

        public Params {
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be a probability in [0, 1], found " + p + "; BERT uses 0.15");
            }
        }
    }

    private final double p;
    /** The text modality's ids: which are special, and MASK's; the built-in tokenizers' when not told. */
    private final TokenSpec spec;

    public TokenMask(Params params, ComponentContext context) {
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
        int[] ids = example.ids().clone();
        for (int i = 0; i < ids.length; i++) {
            if (spec.isText(ids[i]) && rng.nextDouble() < p) {
                ids[i] = spec.maskId();
            }
        }
        return new TokenExample(ids);
    }
}
