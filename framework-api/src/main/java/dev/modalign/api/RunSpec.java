package dev.modalign.api;

/**
 * What a tracker needs to open a run.
 *
 * @param experiment the experiment name (created where missing)
 * @param runName a human-readable run name
 * @param parentRunId the parent run of a sweep trial, or null
 */
public record RunSpec(String experiment, String runName, String parentRunId) {}
