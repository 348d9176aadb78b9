package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ImageExample;
import dev.modalign.api.TokenExample;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Augmentation} must do: the same seed gives the same output, the input is never
 * modified, and (for most) different seeds give different outputs.
 *
 * @param <P> the augmentation's parameter record
 */
public abstract class AbstractAugmentationContractTest<P extends Record> extends PluginContract {

    protected abstract ComponentFactory<P, Augmentation<?>> factory();

    protected abstract P params();

    /** An example of the type the augmentation takes. */
    protected abstract Object example();

    /** Whether some seed must change the example (false for an augmentation that may be a no-op). */
    protected boolean changesWithSeed() {
        return true;
    }

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return factory();
    }

    @SuppressWarnings("unchecked")
    private Augmentation<Object> augmentation() {
        return (Augmentation<Object>) factory().create(params(), TestContext.builder().build());
    }

    @Test
    void sameSeedSameOutputAndInputUntouched() {
        Augmentation<Object> augmentation = augmentation();
        Object example = example();
        String before = fingerprint(example);
        Object first = augmentation.apply(example, new Random(42));
        Object second = augmentation.apply(example, new Random(42));
        assertEquals(fingerprint(first), fingerprint(second), "the same seed gave different outputs");
        assertEquals(before, fingerprint(example), "apply modified its input; return a new example instead");
        assertEquals(augmentation.exampleType(), first.getClass(), "apply returned another example type");
    }

    @Test
    void someSeedChangesTheExample() {
        if (!changesWithSeed()) {
            return;
        }
        Augmentation<Object> augmentation = augmentation();
        Object example = example();
        boolean changed = false;
        for (int seed = 1; seed <= 20 && !changed; seed++) {
            // Spread seeds: java.util.Random's first draws are nearly equal for small consecutive seeds.
            Random random = new Random(seed * 0x9E3779B97F4A7C15L);
            changed = !fingerprint(augmentation.apply(example, random)).equals(fingerprint(example));
        }
        assertNotEquals(false, changed, "twenty seeds left the example unchanged");
    }

    /** A value that is equal for equal examples; override for other example types. */
    protected String fingerprint(Object example) {
        if (example instanceof ImageExample image) {
            return image.channels() + "x" + image.height() + "x" + image.width() + ":" + Arrays.hashCode(image.pixels());
        }
        if (example instanceof TokenExample tokens) {
            return Arrays.toString(tokens.ids());
        }
        return String.valueOf(example);
    }
}
