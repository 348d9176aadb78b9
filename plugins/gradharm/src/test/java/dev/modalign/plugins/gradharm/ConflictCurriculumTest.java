package dev.modalign.plugins.gradharm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The curriculum's schedule: a threshold on the gradient cosine that moves from start to end and stays. */
class ConflictCurriculumTest {

    @Test
    void theThresholdMovesLinearlyOverItsShareOfTheRunAndThenStays() {
        ConflictCurriculum curriculum = new ConflictCurriculum(0.0, -1.0, 0.5);
        assertEquals(0.0, curriculum.threshold(0, 200), 1e-12);
        assertEquals(-0.5, curriculum.threshold(50, 200), 1e-12);
        assertEquals(-1.0, curriculum.threshold(100, 200), 1e-12);
        assertEquals(-1.0, curriculum.threshold(199, 200), 1e-12);
        double previous = Double.POSITIVE_INFINITY;
        for (long step = 0; step < 200; step++) {
            double threshold = curriculum.threshold(step, 200);
            assertTrue(threshold <= previous, "the threshold only relaxes, step " + step);
            previous = threshold;
        }
    }

    @Test
    void conflictingStepsAreTurnedAwayEarlyAndAdmittedLater() {
        ConflictCurriculum curriculum = new ConflictCurriculum(0.0, -1.0, 0.5);
        assertFalse(curriculum.keeps(-0.3, 0, 200), "a conflict at the start is below the threshold 0");
        assertTrue(curriculum.keeps(0.2, 0, 200), "agreeing steps are always kept");
        assertTrue(curriculum.keeps(0.0, 0, 200), "orthogonal gradients are at the threshold, not below");
        assertFalse(curriculum.keeps(-0.3, 20, 200), "at step 20 the threshold is -0.2, above the cosine");
        assertTrue(curriculum.keeps(-0.3, 40, 200), "at step 40 the threshold is -0.4, below the cosine");
    }

    @Test
    void fractionZeroIsTheEndThresholdFromTheStart() {
        ConflictCurriculum curriculum = new ConflictCurriculum(0.5, -0.2, 0.0);
        assertEquals(-0.2, curriculum.threshold(0, 100), 1e-12);
    }
}
