package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Reading reference cases and the relative measure that every reference test holds a loss to. */
class ReferenceVectorsTest {

    record ExampleCase(String name, double logitScale, double[][] gradA) {}

    private NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Test
    void casesReadSnakeCaseKeysIntoCamelCaseComponents() {
        List<ExampleCase> cases = ReferenceVectors.cases("/reference_vectors_example.json", ExampleCase.class);
        assertEquals(List.of("first", "second"), cases.stream().map(ExampleCase::name).toList());
        assertEquals(2.5, cases.get(0).logitScale());
        assertArrayEquals(new double[] {1.0, -2.0}, cases.get(0).gradA()[0]);
        IllegalStateException missing = assertThrows(IllegalStateException.class,
                () -> ReferenceVectors.cases("/no_such_reference.json", ExampleCase.class));
        assertTrue(missing.getMessage().contains("make_reference.py"), missing.getMessage());
    }

    @Test
    void arraysKeepTheShapeOfTheirRowsAndBlocks() {
        NDArray rows = ReferenceVectors.array(manager, new double[][] {{1, 2, 3}, {4, 5, 6}});
        assertEquals(new Shape(2, 3), rows.getShape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, rows.toFloatArray());
        double[][][] blocks = {{{1, 2}}, {{3, 4}}, {{5, 6}}};
        assertEquals(new Shape(3, 1, 2), ReferenceVectors.array(manager, blocks).getShape());
        assertArrayEquals(new double[] {1, 2, 3, 4, 5, 6}, ReferenceVectors.flatten(blocks));
    }

    /** Absolute below magnitude 1, relative above: 1e-5 off 0.5 and 1e-5 * 1000 off 1000 both pass 1e-5. */
    @Test
    void theMeasureIsRelativeToTheLargerOfOneAndTheValues() {
        NDArray actual = manager.create(new float[][] {{0.50001f, 1000.01f}});
        double error = ReferenceVectors.assertMatches(new double[][] {{0.5, 1000}}, actual, 1.1e-5, "close");
        assertTrue(error > 0.9e-5 && error <= 1.1e-5, "error " + error);
        AssertionError far = assertThrows(AssertionError.class, () -> ReferenceVectors.assertMatches(
                new double[][] {{0.5, 1000}, {2, 3}}, manager.create(new float[][] {{0.5f, 1000}, {2, 3.001f}}), 1e-5,
                "gradient of b"));
        assertTrue(far.getMessage().startsWith("gradient of b: off by"), far.getMessage());
        assertTrue(far.getMessage().contains("worst at [1, 1] (flat index 3): expected 3.0, found 3.001"),
                far.getMessage());
    }

    @Test
    void aNonFiniteValueOrAnotherShapeNeverMatches() {
        assertEquals(Double.POSITIVE_INFINITY,
                ReferenceVectors.relativeError(new double[] {1, 2}, new float[] {1, Float.NaN}));
        assertEquals(Double.POSITIVE_INFINITY,
                ReferenceVectors.relativeError(new double[] {1}, new float[] {Float.POSITIVE_INFINITY}));
        assertThrows(AssertionError.class, () -> ReferenceVectors.assertMatches(1.0,
                manager.create(new float[] {Float.NaN}), 1, "loss"));
        AssertionError shape = assertThrows(AssertionError.class, () -> ReferenceVectors.assertMatches(
                new double[][] {{1, 2, 3, 4}}, manager.create(new float[][] {{1, 2}, {3, 4}}), 1, "transposed"));
        assertTrue(shape.getMessage().startsWith("transposed: expected an array of shape (1, 4), found (2, 2)"),
                shape.getMessage());
        assertEquals(0, ReferenceVectors.relativeError(2.0, manager.create(2f)), "a scalar matches a scalar array");
    }
}
