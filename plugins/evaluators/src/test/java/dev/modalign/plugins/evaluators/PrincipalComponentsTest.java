package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Principal axes of point sets whose axes are known. */
class PrincipalComponentsTest {

    /**
     * Points (+-3, +-1) rotated by 30 degrees and shifted: the covariance has variance 9 along the
     * rotated x axis and 1 along the rotated y axis, so the axes are (cos 30, sin 30) and
     * (-sin 30, cos 30) up to sign, explaining 9/10 and 1/10 of the variance.
     */
    @Test
    void findsTheAxesOfARotatedRectangle() {
        double angle = Math.toRadians(30);
        double[][] corners = {{3, 1}, {3, -1}, {-3, 1}, {-3, -1}};
        float[][] rows = new float[4][];
        for (int i = 0; i < 4; i++) {
            double x = corners[i][0];
            double y = corners[i][1];
            rows[i] = new float[] {(float) (x * Math.cos(angle) - y * Math.sin(angle) + 5),
                (float) (x * Math.sin(angle) + y * Math.cos(angle) - 2)};
        }
        PrincipalComponents components = PrincipalComponents.of(rows, 2);
        assertArrayEquals(new double[] {5, -2}, components.mean(), 1e-6);
        // Signs fixed so the largest entry is positive: (0.866, 0.5) and (-0.5, 0.866).
        assertArrayEquals(new double[] {Math.cos(angle), Math.sin(angle)}, components.axes()[0], 1e-6);
        assertArrayEquals(new double[] {-Math.sin(angle), Math.cos(angle)}, components.axes()[1], 1e-6);
        assertArrayEquals(new double[] {0.9, 0.1}, components.explained(), 1e-6);
        // The first corner projects back to its unrotated coordinates.
        assertArrayEquals(new double[] {3, 1}, components.project(rows[0]), 1e-5);
    }

    @Test
    void aLineHasOneAxisAndNoSecond() {
        float[][] rows = {{1, 2, 3}, {2, 4, 6}, {-1, -2, -3}};
        PrincipalComponents components = PrincipalComponents.of(rows, 2);
        double norm = Math.sqrt(14);
        assertArrayEquals(new double[] {1 / norm, 2 / norm, 3 / norm}, components.axes()[0], 1e-9);
        assertEquals(1.0, components.explained()[0], 1e-9);
        assertEquals(0.0, components.explained()[1], 1e-9);
        assertEquals(0.0, components.project(rows[1])[1], 1e-6);
    }
}
