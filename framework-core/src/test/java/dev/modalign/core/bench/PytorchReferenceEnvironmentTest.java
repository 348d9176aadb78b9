package dev.modalign.core.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The reference runs with PyTorch's own OpenMP defaults, not the ones the launcher chose for modalign. */
class PytorchReferenceEnvironmentTest {

    @Test
    void removesWhatTheLauncherDefaultedAndKeepsWhatTheUserSet() {
        Map<String, String> environment = new HashMap<>(Map.of("GOMP_SPINCOUNT", "3000", "OMP_WAIT_POLICY", "PASSIVE",
                "MODALIGN_DEFAULTED_ENV", "GOMP_SPINCOUNT", "PATH", "/usr/bin"));

        PytorchReference.withoutLauncherDefaults(environment);

        assertEquals(Map.of("OMP_WAIT_POLICY", "PASSIVE", "PATH", "/usr/bin"), environment);
    }

    @Test
    void keepsEverythingWhenTheLauncherDefaultedNothing() {
        Map<String, String> environment = new HashMap<>(Map.of("GOMP_SPINCOUNT", "100", "MODALIGN_DEFAULTED_ENV", ""));

        PytorchReference.withoutLauncherDefaults(environment);

        assertEquals(Map.of("GOMP_SPINCOUNT", "100"), environment);
    }

    @Test
    void runsOutsideTheLauncherChangeNothing() {
        Map<String, String> environment = new HashMap<>(Map.of("GOMP_SPINCOUNT", "100"));

        PytorchReference.withoutLauncherDefaults(environment);

        assertEquals(Map.of("GOMP_SPINCOUNT", "100"), environment);
    }
}
