package dev.modalign.core.report;

import java.util.List;
import java.util.Set;

/**
 * What a report covers and how it is laid out.
 *
 * @param name the report's name (its directory's name under reports/)
 * @param title the page's title
 * @param experiments the experiments whose runs it compares, in the order of its rows when the rows
 *     are experiments; empty when {@code parentRunId} is given
 * @param parentRunId a sweep's parent run, whose child runs it compares; or null
 * @param runIds only these runs of the experiments or the sweep; empty for all of them
 * @param metrics the table's columns and the bar charts; empty for every {@code eval/} metric
 * @param groupBy parameters whose values make the rows; empty for the default (experiments, else the
 *     swept parameters)
 * @param curves the metrics drawn per step (training curves)
 * @param lowerIsBetter metrics where lower is better besides those whose name says loss
 * @param notes markdown put under the table (findings), or ""
 * @param store where the runs were read from, as the page names it (a URI or the local store's directory)
 * @param commandLine the command that makes the report, as the page quotes it
 */
public record ReportRequest(String name, String title, List<String> experiments, String parentRunId, Set<String> runIds,
        List<String> metrics,
        List<String> groupBy, List<String> curves, Set<String> lowerIsBetter, String notes, String store,
        String commandLine) {

    /** The training curve a report draws unless told otherwise. */
    public static final List<String> DEFAULT_CURVES = List.of("train/loss");

    public ReportRequest {
        experiments = List.copyOf(experiments);
        runIds = Set.copyOf(runIds);
        metrics = List.copyOf(metrics);
        groupBy = List.copyOf(groupBy);
        curves = List.copyOf(curves);
        lowerIsBetter = Set.copyOf(lowerIsBetter);
        notes = notes == null ? "" : notes;
        title = title == null || title.isBlank() ? name : title;
        if (experiments.isEmpty() == (parentRunId == null)) {
            throw new IllegalArgumentException("a report reads either experiments or a parent run's children");
        }
    }
}
