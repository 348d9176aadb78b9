package dev.modalign.plugins.mlflow;

import org.mlflow_project.google.gson.JsonObject;

/**
 * One line of a run's spool: what a {@link dev.modalign.api.TrackedRun} call recorded, numbered by
 * {@code seq} (1, 2, ... per run, in call order). Kinds: {@code start}, {@code params}, {@code tags},
 * {@code metric}, {@code artifact}, {@code end}.
 */
record SpoolRecord(long seq, long time, String kind, JsonObject data) {

    JsonObject toJson() {
        JsonObject line = new JsonObject();
        line.addProperty("seq", seq);
        line.addProperty("time", time);
        line.addProperty("kind", kind);
        line.add("data", data);
        return line;
    }

    static SpoolRecord fromJson(JsonObject line) {
        return new SpoolRecord(line.get("seq").getAsLong(), line.get("time").getAsLong(), line.get("kind").getAsString(),
                line.getAsJsonObject("data"));
    }
}
