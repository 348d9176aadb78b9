package dev.modalign.testkit;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A test class whose every test gets its own base {@link NDManager}, closed after the test, so that
 * no array (a loss's parameters included) outlives the test that made it. Extend it; compute a step
 * in {@code manager.newSubManager()}, as the trainer does.
 */
public abstract class ManagerPerTest {

    /** This test's manager: open during the test, closed after it. */
    protected NDManager manager;

    @BeforeEach
    final void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    final void closeManager() {
        manager.close();
    }
}
