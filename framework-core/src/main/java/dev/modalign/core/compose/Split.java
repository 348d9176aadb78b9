package dev.modalign.core.compose;

import dev.modalign.api.InvalidParamException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * Assigns every record to train, validation or test by a seeded hash of its id, so that one set of
 * files serves as three disjoint data sets. The part depends on the id and the seed alone: it does
 * not change when files are reordered, added or removed (only the new ones land somewhere), and the
 * same id lands in the same part in every run and on every machine.
 *
 * <p>Each part's size is its fraction of the records up to sampling noise (a binomial draw per
 * record), which is what a seeded split over a large data set needs; a small one is better split by
 * listing its files.
 */
final class Split {

    /** The parts a record can fall into. */
    enum Part {
        TRAIN, VALIDATION, TEST;

        String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Tolerance on the fractions' sum, so that decimal fractions like 0.7, 0.2, 0.1 pass. */
    private static final double SUM_TOLERANCE = 1e-6;

    private final Part part;
    private final List<Double> fractions;
    private final long seed;
    private final double trainEnd;
    private final double validationEnd;

    private Split(Part part, List<Double> fractions, long seed) {
        this.part = part;
        this.fractions = fractions;
        this.seed = seed;
        double sum = fractions.get(0) + fractions.get(1) + fractions.get(2);
        this.trainEnd = fractions.get(0) / sum;
        // x / x is exactly 1.0, so with no test fraction every draw in [0, 1) is train or validation.
        this.validationEnd = (fractions.get(0) + fractions.get(1)) / sum;
    }

    /**
     * @param part all, train, validation or test (the {@code split} key)
     * @param fractions train, validation and test fractions summing to 1 (the {@code split_fractions} key)
     * @param seed the hash's seed (the {@code split_seed} key)
     * @throws InvalidParamException naming the key that is wrong
     */
    static Split of(String part, List<Double> fractions, long seed) {
        String name = part == null ? "all" : part.strip().toLowerCase(Locale.ROOT);
        Part chosen = null;
        if (!name.equals("all")) {
            for (Part candidate : Part.values()) {
                if (candidate.key().equals(name)) {
                    chosen = candidate;
                }
            }
            if (chosen == null) {
                throw new InvalidParamException("split", "must be all, train, validation or test, found '" + part + "'");
            }
        }
        List<Double> checked = checkFractions(fractions == null ? List.of(0.8, 0.1, 0.1) : fractions);
        if (chosen != null && checked.get(chosen.ordinal()) == 0) {
            throw new InvalidParamException("split_fractions", "gives the " + chosen.key() + " part a fraction of 0,"
                    + " so split: " + chosen.key() + " would read nothing; found " + checked);
        }
        return new Split(chosen, checked, seed);
    }

    private static List<Double> checkFractions(List<Double> fractions) {
        if (fractions.size() != 3) {
            throw new InvalidParamException("split_fractions", "must be three fractions, of train, validation and test"
                    + " (e.g. [0.8, 0.1, 0.1]), found " + fractions);
        }
        double sum = 0;
        for (Double fraction : fractions) {
            if (fraction == null || !(fraction >= 0 && fraction <= 1)) {
                throw new InvalidParamException("split_fractions", "each fraction must be between 0 and 1, found "
                        + fractions);
            }
            sum += fraction;
        }
        if (Math.abs(sum - 1) > SUM_TOLERANCE) {
            throw new InvalidParamException("split_fractions", "must sum to 1, found " + fractions + " summing to " + sum);
        }
        return List.copyOf(fractions);
    }

    /** Whether every record is read, whatever its part. */
    boolean isAll() {
        return part == null;
    }

    /** Whether the record with this id is in the chosen part (always, for {@code split: all}). */
    boolean contains(String id) {
        return part == null || partOf(id) == part;
    }

    /** The part a record falls into, whichever part was chosen. */
    Part partOf(String id) {
        double draw = draw(id);
        return draw < trainEnd ? Part.TRAIN : draw < validationEnd ? Part.VALIDATION : Part.TEST;
    }

    /** For fingerprints and messages: "train of [0.8, 0.1, 0.1] with seed 0", or "all". */
    String describe() {
        return part == null ? "all" : part.key() + " of " + fractions + " with seed " + seed;
    }

    /**
     * A uniform number in [0, 1) from the id and the seed: 64-bit FNV-1a over the id's UTF-8 bytes,
     * mixed with the seed by SplitMix64's finaliser. Written out rather than String.hashCode so that
     * it is 64 bits wide and fixed by this code, not by a library's version.
     */
    private double draw(String id) {
        long hash = 0xcbf29ce484222325L;
        for (byte b : id.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= 0x100000001b3L;
        }
        long z = hash ^ (seed * 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (z >>> 11) * 0x1.0p-53;
    }
}
