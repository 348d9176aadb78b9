package dev.modalign.plugins.text;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * Text: a tokenising modality (hashed words or bytes without a vocabulary, or a HuggingFace
 * tokenizer.json) and token-level augmentations.
 */
public final class TextPlugin implements Plugin {

    static final ComponentFactory<TextModality.Params, Modality<?>> TEXT = ComponentFactory.of(
            "text",
            "Text as token ids: words hashed with 32-bit FNV-1a (the hashing trick of Weinberger et al., Feature"
                    + " Hashing for Large Scale Multitask Learning, 2009) or UTF-8 bytes, without a vocabulary file;"
                    + " or a HuggingFace tokenizer.json (WordPiece, BPE, Unigram) with its vocabulary and special tokens",
            TextModality.Params.class,
            TextModality::new);

    static final ComponentFactory<TokenMask.Params, Augmentation<?>> TOKEN_MASK = ComponentFactory.of(
            "token-mask",
            "Replaces each real token by MASK with probability p, never CLS (the masking of Devlin et al.,"
                    + " BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding, 2019)",
            TokenMask.Params.class,
            TokenMask::new);

    static final ComponentFactory<TokenDropout.Params, Augmentation<?>> TOKEN_DROPOUT = ComponentFactory.of(
            "token-dropout",
            "Drops each real token with probability p, keeping at least one (the random deletion of Wei and Zou,"
                    + " EDA: Easy Data Augmentation Techniques for Boosting Performance on Text Classification, 2019)",
            TokenDropout.Params.class,
            TokenDropout::new);

    @Override
    public String name() {
        return "text";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public String apiVersion() {
        return ModalignApi.VERSION;
    }

    @Override
    public List<ComponentFactory<?, Modality<?>>> modalities() {
        return List.of(TEXT);
    }

    @Override
    public List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of(TOKEN_MASK, TOKEN_DROPOUT);
    }
}
