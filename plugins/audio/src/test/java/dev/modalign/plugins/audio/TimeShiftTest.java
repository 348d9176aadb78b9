package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TimeShiftTest extends AbstractAugmentationContractTest<TimeShift.Params> {

    @Override
    protected ComponentFactory<TimeShift.Params, Augmentation<?>> factory() {
        return AudioPlugin.TIME_SHIFT;
    }

    @Override
    protected TimeShift.Params params() {
        return new TimeShift.Params(0.2, TimeShift.Mode.ROLL, 1.0);
    }

    @Override
    protected Object example() {
        return RandomSegmentTest.longClip();
    }

    /** Finds the shift by matching: the output is the window's samples moved by s, wrapped or zero-filled. */
    @Test
    void theOutputIsTheWindowShiftedWithinTheLimit() {
        AudioExample clip = RandomSegmentTest.longClip().withWindowAt(5000);
        float[] window = clip.segment();
        for (TimeShift.Mode mode : TimeShift.Mode.values()) {
            TimeShift shift = new TimeShift(new TimeShift.Params(0.1, mode, 1.0), TestContext.builder().build());
            for (int seed = 0; seed < 5; seed++) {
                AudioExample out = shift.apply(clip, new Random(seed));
                assertEquals(16000, out.clip().length, "the window alone is kept");
                assertEquals(0, out.windowStart());
                int found = Integer.MIN_VALUE;
                for (int s = -1600; s <= 1600 && found == Integer.MIN_VALUE; s++) {
                    boolean matches = true;
                    for (int i = 0; i < 16000 && matches; i += 7) {
                        int from = i - s;
                        float expected = mode == TimeShift.Mode.ROLL ? window[Math.floorMod(from, 16000)]
                                : from >= 0 && from < 16000 ? window[from] : 0f;
                        matches = expected == out.clip()[i];
                    }
                    if (matches) {
                        found = s;
                    }
                }
                assertTrue(found != Integer.MIN_VALUE, mode + ": no shift within 0.1 s explains the output");
                AudioExample expected = AudioModalityTest.modality(AudioModalityTest.params(1.0, PadMode.ZERO, false))
                        .decode(TimeShift.shifted(window, found, mode), "expected");
                assertArrayEquals(expected.features(), out.features(), mode + ": features of the shifted window");
            }
        }
    }

    @Test
    void pZeroLeavesTheExample() {
        AudioExample clip = RandomSegmentTest.longClip();
        assertEquals(clip, new TimeShift(new TimeShift.Params(0.1, TimeShift.Mode.ROLL, 0.0),
                TestContext.builder().build()).apply(clip, new Random(1)));
        assertEquals("max_seconds", assertThrows(InvalidParamException.class,
                () -> new TimeShift.Params(0, TimeShift.Mode.ROLL, 1.0)).key());
    }
}
