package dev.modalign.core.report;

import java.util.List;
import java.util.Map;

/**
 * A comparison read back from a tracking store, ready to be written: the rows, their aggregated
 * metrics, their training curves and the experiments their runs recorded.
 *
 * @param request what was asked for
 * @param grouping how the runs became rows
 * @param methods the rows, in order
 * @param table methods x metrics
 * @param curves curve metric -> one curve per method that logged it, in the rows' order
 * @param resolvedYaml run id -> the resolved experiment the run recorded ("" when it recorded none)
 * @param parent the sweep's parent run's name and experiment when the report is of its children, else null
 * @param parentsLeftOut how many sweep parents the experiments held (not runs of a method: left out)
 */
public record Report(ReportRequest request, MethodGrouping grouping, List<Method> methods, ComparisonTable table,
        Map<String, List<TrainingCurve>> curves, Map<String, String> resolvedYaml, ParentRun parent, int parentsLeftOut) {

    /** A sweep's parent run. */
    public record ParentRun(String runId, String runName, String experiment) {}

    /** How many runs the rows hold, finished or not. */
    public int runCount() {
        return methods.stream().mapToInt(method -> method.runs().size()).sum();
    }

    public int finishedCount() {
        return methods.stream().mapToInt(method -> method.finished().size()).sum();
    }
}
