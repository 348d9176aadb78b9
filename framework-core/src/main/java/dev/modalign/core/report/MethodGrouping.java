package dev.modalign.core.report;

import dev.modalign.api.RecordedRun;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * How runs become a report's rows ({@link Method}s): by their experiment, or by the values of
 * parameters. Runs that share a row differ only by seed, and are aggregated over it.
 */
public final class MethodGrouping {

    /** Parameters that differ between runs without making them different methods. */
    static final Set<String> NOT_A_SETTING = Set.of("seed", "tracking.run_name");

    private static final String UNSET = "(unset)";

    private final List<String> experimentOrder;
    private final List<String> keys;
    private final String single;

    private MethodGrouping(List<String> experimentOrder, List<String> keys, String single) {
        this.experimentOrder = experimentOrder;
        this.keys = keys;
        this.single = single;
    }

    /** One row per experiment, in the order given. */
    public static MethodGrouping byExperiment(List<String> experimentOrder) {
        return new MethodGrouping(List.copyOf(experimentOrder), List.of(), null);
    }

    /** One row per combination of the values of these parameters, ordered by value. */
    public static MethodGrouping byParams(List<String> keys) {
        if (keys.isEmpty()) {
            throw new IllegalArgumentException("no parameter to group by");
        }
        return new MethodGrouping(null, List.copyOf(keys), null);
    }

    /**
     * One row per combination of the parameters that differ between the runs, other than the seed
     * (and the run name): a sweep's swept parameters. When only the seed differs, every run is one
     * row named {@code name}.
     */
    public static MethodGrouping bySweptParams(List<RecordedRun> runs, String name) {
        List<String> swept = sweptParams(runs);
        return swept.isEmpty() ? new MethodGrouping(null, List.of(), name) : byParams(swept);
    }

    /** The parameters whose values (a missing one counts as a value) differ between runs, sorted. */
    static List<String> sweptParams(List<RecordedRun> runs) {
        Set<String> keys = new TreeSet<>();
        runs.forEach(run -> keys.addAll(run.params().keySet()));
        List<String> swept = new ArrayList<>();
        for (String key : keys) {
            Set<String> values = new HashSet<>();
            runs.forEach(run -> values.add(Objects.requireNonNullElse(run.params().get(key), "\0")));
            if (values.size() > 1 && !NOT_A_SETTING.contains(key)) {
                swept.add(key);
            }
        }
        return swept;
    }

    /** The parameters the rows differ by; empty for rows by experiment or one row. */
    public List<String> keys() {
        return keys;
    }

    /** What the rows are, for the report's text and its first column: "experiment", or the keys. */
    public String describe() {
        if (experimentOrder != null) {
            return "experiment";
        }
        return keys.isEmpty() ? "method" : String.join(", ", keys);
    }

    /** The rows, each with its runs by seed and run id. */
    public List<Method> apply(List<RecordedRun> runs) {
        Map<List<String>, List<RecordedRun>> rows = new LinkedHashMap<>();
        for (RecordedRun run : runs) {
            rows.computeIfAbsent(keyOf(run), k -> new ArrayList<>()).add(run);
        }
        Comparator<RecordedRun> bySeed = Comparator.comparing(Method::seedOf, NaturalOrder.VALUES)
                .thenComparing(RecordedRun::runId);
        List<Method> methods = new ArrayList<>();
        rows.forEach((key, members) -> {
            members.sort(bySeed);
            methods.add(new Method(String.join(", ", key), key, members));
        });
        if (experimentOrder != null) {
            methods.sort(Comparator.comparingInt(method -> experimentOrder.indexOf(method.name())));
        } else {
            methods.sort(Comparator.comparing(Method::key, NaturalOrder.LISTS));
        }
        return methods;
    }

    private List<String> keyOf(RecordedRun run) {
        if (experimentOrder != null) {
            return List.of(run.info().experiment());
        }
        if (keys.isEmpty()) {
            return List.of(single);
        }
        return keys.stream().map(key -> Objects.requireNonNullElse(run.params().get(key), UNSET)).toList();
    }
}
