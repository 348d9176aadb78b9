package dev.modalign.plugins.audio;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Moves the window to a uniformly random start in the clip, so that training sees every part of
 * recordings longer than {@code max_seconds} (the random crop of CLAP's training, Wu et al.,
 * 2023), while evaluation, which is not augmented, keeps the head. A clip no longer than the
 * window is returned as it is. Put it first: the other augmentations work on the window it picks.
 */
public final class RandomSegment implements Augmentation<AudioExample> {

    /** The parameters of {@code random-segment}. */
    public record Params(
            @Doc("Probability of a random segment; otherwise the window stays at the clip's head")
            @Default("1.0") double p) {

        public Params {
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be between 0 and 1, found " + p);
            }
        }
    }

    private final Params params;

    public RandomSegment(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<AudioExample> exampleType() {
        return AudioExample.class;
    }

    @Override
    public AudioExample apply(AudioExample example, Random rng) {
        int slack = example.clip().length - example.windowSamples();
        if (slack <= 0 || rng.nextDouble() >= params.p()) {
            return example;
        }
        return example.withWindowAt(rng.nextInt(slack + 1));
    }
}
