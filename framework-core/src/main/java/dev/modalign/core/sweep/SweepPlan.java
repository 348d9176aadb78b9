package dev.modalign.core.sweep;

import dev.modalign.core.UserError;
import dev.modalign.core.UserError.Problem;
import dev.modalign.core.config.SweepSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Expands a {@code sweep:} block into trials: every combination of the grid (the last axis varying
 * fastest), times each random draw, times each seed. A grid axis named {@code seed} counts as the
 * seeds.
 */
public final class SweepPlan {

    private static final String SEED = "seed";

    private SweepPlan() {}

    /**
     * @param file the experiment file, for error messages
     */
    public static List<Trial> expand(SweepSpec spec, String file) {
        List<Map<String, String>> points = new ArrayList<>();
        points.add(new LinkedHashMap<>());
        List<Long> seeds = new ArrayList<>(spec.seeds());
        Map<String, String> labels = new LinkedHashMap<>();
        for (Map.Entry<String, List<Node>> axis : spec.grid().entrySet()) {
            if (axis.getKey().equals(SEED)) {
                if (!seeds.isEmpty()) {
                    throw problem(file, axis.getValue().get(0), "sweep.grid.seed",
                            "seeds are given twice, under sweep.seeds and as a grid axis; keep one");
                }
                for (Node node : axis.getValue()) {
                    seeds.add(seedOf(node, file));
                }
                continue;
            }
            List<Map<String, String>> expanded = new ArrayList<>();
            for (Map<String, String> point : points) {
                for (Node value : axis.getValue()) {
                    Map<String, String> next = new LinkedHashMap<>(point);
                    next.put(axis.getKey(), NodeText.of(value));
                    expanded.add(next);
                }
            }
            points = expanded;
            componentTypes(axis.getValue()).ifPresent(types -> {
                for (int i = 0; i < types.size(); i++) {
                    labels.put(axis.getKey() + "=" + NodeText.of(axis.getValue().get(i)), types.get(i));
                }
            });
        }
        if (spec.random() != null) {
            points = withRandomDraws(points, spec.random(), file);
        }
        List<Trial> trials = new ArrayList<>();
        for (Map<String, String> point : points) {
            Map<String, String> pointLabels = new LinkedHashMap<>();
            point.forEach((path, value) -> {
                String label = labels.get(path + "=" + value);
                if (label != null) {
                    pointLabels.put(path, label);
                }
            });
            if (seeds.isEmpty()) {
                trials.add(new Trial(trials.size() + 1, point, null, pointLabels));
            }
            for (Long seed : seeds) {
                trials.add(new Trial(trials.size() + 1, point, seed, pointLabels));
            }
        }
        return trials;
    }

    /** The {@code type} of each value when every value is a component block and the types differ. */
    private static java.util.Optional<List<String>> componentTypes(List<Node> values) {
        List<String> types = new ArrayList<>();
        for (Node value : values) {
            if (!(value instanceof MappingNode mapping)) {
                return java.util.Optional.empty();
            }
            String type = null;
            for (NodeTuple tuple : mapping.getValue()) {
                if (tuple.getKeyNode() instanceof ScalarNode key && key.getValue().equals("type")
                        && tuple.getValueNode() instanceof ScalarNode name) {
                    type = name.getValue();
                }
            }
            if (type == null || types.contains(type)) {
                return java.util.Optional.empty();
            }
            types.add(type);
        }
        return java.util.Optional.of(types);
    }

    private static List<Map<String, String>> withRandomDraws(List<Map<String, String>> points, SweepSpec.RandomSpec random,
            String file) {
        List<Distribution> distributions = new ArrayList<>();
        random.params().forEach((path, node) -> distributions.add(Distribution.of(path, node, file)));
        SplittableRandom rng = new SplittableRandom(random.seed());
        List<Map<String, String>> draws = new ArrayList<>();
        for (int i = 0; i < random.trials(); i++) {
            Map<String, String> draw = new LinkedHashMap<>();
            for (Distribution distribution : distributions) {
                draw.put(distribution.path(), distribution.draw(rng));
            }
            draws.add(draw);
        }
        List<Map<String, String>> combined = new ArrayList<>();
        for (Map<String, String> point : points) {
            for (Map<String, String> draw : draws) {
                Map<String, String> both = new LinkedHashMap<>(point);
                both.putAll(draw);
                combined.add(both);
            }
        }
        return combined;
    }

    private static long seedOf(Node node, String file) {
        if (node instanceof ScalarNode scalar) {
            try {
                return Long.parseLong(scalar.getValue().trim());
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw problem(file, node, "sweep.grid.seed", "seeds are integers, found " + NodeText.of(node));
    }

    static UserError problem(String file, Node node, String key, String message) {
        int line = node != null && node.getStartMark() != null ? node.getStartMark().getLine() + 1 : 0;
        int column = node != null && node.getStartMark() != null ? node.getStartMark().getColumn() + 1 : 0;
        return new UserError(List.of(new Problem(file, line, column, key, "sweep", message)));
    }

    /** One parameter's distribution in a random search. */
    private record Distribution(String path, String kind, double low, double high, List<Node> choices) {

        static Distribution of(String path, Node node, String file) {
            String key = "sweep.random.params." + path;
            if (node instanceof SequenceNode sequence) {
                return choice(path, sequence, key, file);
            }
            if (!(node instanceof MappingNode mapping) || mapping.getValue().size() != 1) {
                throw problem(file, node, key, "write one distribution: {uniform: [lo, hi]}, {log_uniform: [lo, hi]}, "
                        + "{int: [lo, hi]} or {choice: [a, b]}");
            }
            NodeTuple only = mapping.getValue().get(0);
            String kind = ((ScalarNode) only.getKeyNode()).getValue();
            Node argument = only.getValueNode();
            if (kind.equals("choice")) {
                if (!(argument instanceof SequenceNode sequence)) {
                    throw problem(file, argument, key + ".choice", "list the values, e.g. [clip, siglip]");
                }
                return choice(path, sequence, key, file);
            }
            if (!List.of("uniform", "log_uniform", "int").contains(kind)) {
                throw problem(file, only.getKeyNode(), key, "unknown distribution '" + kind
                        + "'; use uniform, log_uniform, int or choice");
            }
            if (!(argument instanceof SequenceNode bounds) || bounds.getValue().size() != 2) {
                throw problem(file, argument, key + "." + kind, "give the bounds as [lo, hi]");
            }
            double low = number(bounds.getValue().get(0), key + "." + kind, file);
            double high = number(bounds.getValue().get(1), key + "." + kind, file);
            if (!(low < high) && !(kind.equals("int") && low == high)) {
                throw problem(file, argument, key + "." + kind, "lo must be below hi, found [" + low + ", " + high + "]");
            }
            if (kind.equals("log_uniform") && low <= 0) {
                throw problem(file, argument, key + ".log_uniform", "bounds must be > 0, found " + low);
            }
            if (kind.equals("int") && (low != Math.rint(low) || high != Math.rint(high))) {
                throw problem(file, argument, key + ".int", "bounds must be integers, found [" + low + ", " + high + "]");
            }
            return new Distribution(path, kind, low, high, List.of());
        }

        private static Distribution choice(String path, SequenceNode values, String key, String file) {
            if (values.getValue().isEmpty()) {
                throw problem(file, values, key, "needs at least one value to choose from");
            }
            return new Distribution(path, "choice", 0, 0, values.getValue());
        }

        private static double number(Node node, String key, String file) {
            if (node instanceof ScalarNode scalar) {
                try {
                    return Double.parseDouble(scalar.getValue().trim());
                } catch (NumberFormatException e) {
                    // reported below
                }
            }
            throw problem(file, node, key, "bounds are numbers, found " + NodeText.of(node));
        }

        String draw(SplittableRandom rng) {
            return switch (kind) {
                case "choice" -> NodeText.of(choices.get(rng.nextInt(choices.size())));
                case "int" -> Long.toString((long) low + rng.nextLong((long) high - (long) low + 1));
                case "log_uniform" -> Double.toString(Math.exp(Math.log(low) + rng.nextDouble() * (Math.log(high) - Math.log(low))));
                default -> Double.toString(low + rng.nextDouble() * (high - low));
            };
        }
    }
}
