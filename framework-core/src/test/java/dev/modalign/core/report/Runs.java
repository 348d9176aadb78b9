package dev.modalign.core.report;

import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunStatus;
import java.util.LinkedHashMap;
import java.util.Map;

/** Recorded runs made up for the report's tests. */
final class Runs {

    private Runs() {}

    static RecordedRun run(String id, String experiment, RunStatus status, Map<String, String> params,
            Map<String, Double> metrics) {
        return new RecordedRun(id, "", new LinkedHashMap<>(params), Map.of(), new LinkedHashMap<>(metrics),
                new RecordedRun.Info(experiment, id, status, null, 0, 0));
    }

    static RecordedRun finished(String id, String experiment, String seed, Map<String, Double> metrics) {
        return run(id, experiment, RunStatus.FINISHED, Map.of("seed", seed), metrics);
    }
}
