package dev.modalign.api;

import java.util.Map;

/**
 * A run as a tracker gives it back: enough to run it again and to say what changed.
 *
 * @param runId the run's id in its store
 * @param resolvedYaml the resolved configuration it recorded (artifact config/resolved.yaml)
 * @param params its flattened parameters
 * @param tags its tags (plugin versions, source revision, data fingerprints, seed)
 * @param metrics the last value of each metric
 */
public record RecordedRun(String runId, String resolvedYaml, Map<String, String> params, Map<String, String> tags,
        Map<String, Double> metrics) {}
