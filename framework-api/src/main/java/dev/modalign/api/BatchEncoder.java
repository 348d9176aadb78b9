package dev.modalign.api;

import java.util.List;

/**
 * Lets a loss encode, inside the training step and with gradients, inputs that it makes itself from the
 * batch's own records: hard-negative captions made by swapping or replacing words (NegCLIP, "When and why
 * vision-language models behave like bags-of-words, and what to do about it?", Yuksekgonul et al., ICLR 2023;
 * Structure-CLIP, Huang et al., AAAI 2024). Handed to a loss through {@link StepContext#encoder()}.
 *
 * <p>Threading: the training thread only, during {@link Loss#compute}. Arrays it returns belong to the
 * step's manager.
 *
 * @since API 1.3
 */
public interface BatchEncoder {

    /** The encoder of a host (or a test) that cannot encode extra inputs: every call throws. */
    BatchEncoder UNAVAILABLE = new BatchEncoder() {
        @Override
        public List<Object> rawValues(String tower) {
            throw new UnsupportedOperationException("this host cannot give a loss the batch's raw values (API < 1.3)");
        }

        @Override
        public TowerOutput encode(String tower, List<?> rawValues) {
            throw new UnsupportedOperationException("this host cannot encode values a loss brings (API < 1.3)");
        }
    };

    /**
     * The raw field values (a {@link String} for text, a path for an image or audio file, ...) that a tower's
     * rows of this batch were decoded from, in row order, before augmentation.
     *
     * @throws IllegalArgumentException when there is no such tower
     */
    List<Object> rawValues(String tower);

    /**
     * Decodes values with a tower's modality as a record field would be (without augmentation), collates them
     * and encodes them with the tower's encoder in the step's mode, gradients flowing into the encoder as for
     * the batch itself. Embedding [N, D] (tokens where the encoder gives them), owned by the step's manager.
     *
     * @throws IllegalArgumentException when there is no such tower, {@code rawValues} is empty, or the modality
     *     cannot decode a value
     */
    TowerOutput encode(String tower, List<?> rawValues);
}
