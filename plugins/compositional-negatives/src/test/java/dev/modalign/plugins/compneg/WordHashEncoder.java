package dev.modalign.plugins.compneg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Random;

/** Test encoders of captions: deterministic vectors from words, as bags of words or in order. */
final class WordHashEncoder {

    private WordHashEncoder() {}

    static float[] wordVector(String word, int dim, long salt) {
        Random random = new Random(word.hashCode() * 1_000_003L + salt);
        float[] vector = new float[dim];
        for (int i = 0; i < dim; i++) {
            vector[i] = (float) random.nextGaussian();
        }
        return vector;
    }

    /** The sum of the words' vectors: blind to word order, as a bag-of-words model is. */
    static float[] bagOfWords(String caption, int dim) {
        float[] sum = new float[dim];
        for (String word : CaptionPerturbation.words(caption)) {
            float[] vector = wordVector(word, dim, 0);
            for (int i = 0; i < dim; i++) {
                sum[i] += vector[i];
            }
        }
        return sum;
    }

    /** The sum of the vectors of (word, position): different for another word order. */
    static float[] ordered(String caption, int dim) {
        float[] sum = new float[dim];
        List<String> words = CaptionPerturbation.words(caption);
        for (int p = 0; p < words.size(); p++) {
            float[] vector = wordVector(words.get(p), dim, p + 1);
            for (int i = 0; i < dim; i++) {
                sum[i] += vector[i];
            }
        }
        return sum;
    }

    static NDArray encode(NDManager manager, List<?> captions, int dim, boolean order) {
        float[][] rows = new float[captions.size()][];
        for (int i = 0; i < rows.length; i++) {
            String caption = String.valueOf(captions.get(i));
            rows[i] = order ? ordered(caption, dim) : bagOfWords(caption, dim);
        }
        return manager.create(rows);
    }
}
