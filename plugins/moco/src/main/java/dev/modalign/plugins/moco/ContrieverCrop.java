package dev.modalign.plugins.moco;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import java.util.Random;

/**
 * Contriever's independent cropping ("Unsupervised Dense Information Retrieval with Contrastive Learning",
 * Izacard et al., TMLR 2022, Section 3.2): a view of a text is one contiguous span of its tokens, of a length
 * drawn uniformly between {@code min_ratio} and {@code max_ratio} of the text's tokens and at a uniform start.
 * Put it on a tower and on its momentum copy ({@code momentum_of:}): the host draws each tower's augmentations
 * from its own generator, so query and key get two independent spans of the same text, "positive pairs
 * [that] may or may not overlap".
 *
 * <p>Special ids (CLS, SEP, ...) are not part of the text: those before the first real token and after the
 * last stay where they are, the span is cut from the real tokens between them, and a span has at least one
 * token.
 */
public final class ContrieverCrop implements Augmentation<TokenExample> {

    /**
     * @param minRatio the shortest span, as a fraction of the text's tokens
     * @param maxRatio the longest span, as a fraction of the text's tokens
     */
    public record Params(
            @Doc("The shortest span as a fraction of the text's tokens (Contriever 0.1, for documents of 256 tokens;"
                    + " captions of a few words need more)")
            @Default("0.5") double minRatio,
            @Doc("The longest span as a fraction of the text's tokens (Contriever 0.5)")
            @Default("1.0") double maxRatio) {

        public Params {
            if (!(minRatio > 0 && minRatio <= 1)) {
                throw new InvalidParamException("min_ratio", "must be in (0, 1], found " + minRatio
                        + "; Contriever uses 0.1");
            }
            if (!(maxRatio >= minRatio && maxRatio <= 1)) {
                throw new InvalidParamException("max_ratio", "must be in [min_ratio, 1] = [" + minRatio + ", 1], found "
                        + maxRatio + "; Contriever uses 0.5");
            }
        }
    }

    private final double minRatio;
    private final double maxRatio;
    /** The text modality's ids, to tell special ids apart; without one, every id is text. */
    private final TokenSpec spec;

    public ContrieverCrop(Params params, ComponentContext context) {
        this.minRatio = params.minRatio();
        this.maxRatio = params.maxRatio();
        this.spec = context.input() instanceof TokenSpec tokens ? tokens : null;
    }

    @Override
    public Class<TokenExample> exampleType() {
        return TokenExample.class;
    }

    @Override
    public TokenExample apply(TokenExample example, Random rng) {
        int[] ids = example.ids();
        int first = 0;
        while (first < ids.length && !isText(ids[first])) {
            first++;
        }
        int end = ids.length;
        while (end > first && !isText(ids[end - 1])) {
            end--;
        }
        int tokens = end - first;
        if (tokens <= 1) {
            return example;
        }
        double ratio = minRatio + (maxRatio - minRatio) * rng.nextDouble();
        int length = Math.max(1, Math.min(tokens, (int) Math.round(ratio * tokens)));
        int start = first + rng.nextInt(tokens - length + 1);
        int[] cropped = new int[first + length + (ids.length - end)];
        System.arraycopy(ids, 0, cropped, 0, first);
        System.arraycopy(ids, start, cropped, first, length);
        System.arraycopy(ids, end, cropped, first + length, ids.length - end);
        return new TokenExample(cropped);
    }

    private boolean isText(int id) {
        return spec == null || spec.isText(id);
    }
}
