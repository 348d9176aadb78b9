package dev.modalign.api;

/** How a run ended; the names match MLflow's run statuses. */
public enum RunStatus {
    RUNNING,
    FINISHED,
    FAILED,
    KILLED
}
