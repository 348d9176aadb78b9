package dev.modalign.core.stage;

import dev.modalign.core.UserError;
import dev.modalign.core.UserError.Problem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * An experiment file in stages: a {@code stages:} block names stages, each a partial experiment
 * merged over the file's top level (mappings merge key by key, anything else is replaced). Stages run
 * in order, each its own run; a later stage's tower starts from an earlier stage's tower with
 * {@code init_from: stage:<stage>/<tower>}, as LiT's locked image tower does.
 *
 * <pre>
 * stages:
 *   pretrain: {train: {epochs: 4}}
 *   lit:
 *     towers:
 *       image: {init_from: stage:pretrain/image, frozen: true}
 * </pre>
 */
public final class Stages {

    static final String KEY = "stages";
    private static final String PREFIX = "stage:";

    /**
     * One stage: its name and its experiment, still holding {@code stage:} references.
     *
     * @param index 0-based position
     */
    public record Stage(int index, String name, MappingNode document) {}

    private Stages() {}

    /** Whether the document has a stages block. */
    public static boolean present(Node root) {
        return root instanceof MappingNode mapping && value(mapping, KEY) != null;
    }

    /** The stages in order, each merged over the top level; a malformed block is a located error. */
    public static List<Stage> of(Node root, String file) {
        MappingNode top = (MappingNode) root;
        Node block = value(top, KEY);
        if (!(block instanceof MappingNode stagesNode) || stagesNode.getValue().isEmpty()) {
            throw error(file, block, KEY, "name the stages in order, each a partial experiment, e.g. "
                    + "stages: {pretrain: {train: {epochs: 4}}, lit: {towers: {image: {frozen: true}}}}");
        }
        MappingNode base = without(top, KEY);
        List<Stage> stages = new ArrayList<>();
        for (NodeTuple tuple : stagesNode.getValue()) {
            String name = ((ScalarNode) tuple.getKeyNode()).getValue();
            if (!name.matches("[A-Za-z0-9_-]+")) {
                throw error(file, tuple.getKeyNode(), KEY + "." + name, "stage names are letters, digits, _ and -");
            }
            if (!(tuple.getValueNode() instanceof MappingNode stage)) {
                throw error(file, tuple.getValueNode(), KEY + "." + name, "a stage is a mapping of the keys it changes, "
                        + "e.g. {train: {epochs: 4}} (use {} to run the top level as it is)");
            }
            if (value(stage, KEY) != null || value(stage, "sweep") != null) {
                throw error(file, stage, KEY + "." + name, "a stage cannot hold stages or a sweep");
            }
            stages.add(new Stage(stages.size(), name, merge(base, stage)));
        }
        if (value(base, "sweep") != null) {
            throw error(file, value(base, "sweep"), "sweep", "a file with stages cannot be swept yet; sweep a file "
                    + "without stages, or run the stages and sweep the last one with init_from: run:<id>");
        }
        return stages;
    }

    /**
     * Replaces each {@code init_from: stage:<stage>[/<tower>]} of a stage by what {@code earlier} says of
     * that stage's tower (e.g. {@code run:<run id>/<tower>}); a reference to the same or a later stage,
     * or to no stage, is a located error.
     */
    public static void resolve(Stage stage, List<Stage> stages, Function<String, String> runIdOf, String file) {
        Node towers = value(stage.document(), "towers");
        if (!(towers instanceof MappingNode towerMap)) {
            return;
        }
        for (NodeTuple tower : towerMap.getValue()) {
            if (!(tower.getValueNode() instanceof MappingNode towerSpec)) {
                continue;
            }
            String towerName = ((ScalarNode) tower.getKeyNode()).getValue();
            for (int i = 0; i < towerSpec.getValue().size(); i++) {
                NodeTuple entry = towerSpec.getValue().get(i);
                if (!(entry.getKeyNode() instanceof ScalarNode key) || !key.getValue().equals("init_from")
                        || !(entry.getValueNode() instanceof ScalarNode reference)
                        || !reference.getValue().startsWith(PREFIX)) {
                    continue;
                }
                String rest = reference.getValue().substring(PREFIX.length());
                String stageName = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
                String sourceTower = rest.contains("/") ? rest.substring(rest.indexOf('/') + 1) : towerName;
                String path = "stages." + stage.name() + ".towers." + towerName + ".init_from";
                Stage source = stages.stream().filter(s -> s.name().equals(stageName)).findFirst().orElseThrow(() ->
                        error(file, reference, path, "no stage '" + stageName + "'; stages: "
                                + stages.stream().map(Stage::name).toList()));
                if (source.index() >= stage.index()) {
                    throw error(file, reference, path, "stages run in order, so stage '" + stage.name()
                            + "' cannot start from stage '" + stageName + "', which " + (source == stage
                            ? "is itself; name an earlier stage, or a finished run with run:<run id>"
                            : "runs after it; move '" + stageName + "' before '" + stage.name() + "'"));
                }
                ScalarNode resolved = new ScalarNode(Tag.STR, runIdOf.apply(source.name()) + "/" + sourceTower,
                        reference.getStartMark(), reference.getEndMark(), reference.getScalarStyle());
                towerSpec.getValue().set(i, new NodeTuple(entry.getKeyNode(), resolved));
            }
        }
    }

    /** The run name of a stage: the document's tracking.run_name or name, then the stage's name. */
    public static String runName(Stage stage, String fallback) {
        Node tracking = value(stage.document(), "tracking");
        Node given = tracking instanceof MappingNode mapping ? value(mapping, "run_name") : null;
        Node name = value(stage.document(), "name");
        String base = given instanceof ScalarNode g ? g.getValue() : name instanceof ScalarNode n ? n.getValue() : fallback;
        return "'" + (base + "-" + stage.name()).replace("'", "''") + "'";
    }

    /** {@code over} merged onto a copy of {@code base}: mappings key by key, other values replaced. */
    static MappingNode merge(MappingNode base, MappingNode over) {
        Map<String, NodeTuple> merged = new LinkedHashMap<>();
        for (NodeTuple tuple : base.getValue()) {
            merged.put(keyOf(tuple), copy(tuple));
        }
        for (NodeTuple tuple : over.getValue()) {
            String key = keyOf(tuple);
            NodeTuple existing = merged.get(key);
            if (existing != null && existing.getValueNode() instanceof MappingNode left
                    && tuple.getValueNode() instanceof MappingNode right) {
                merged.put(key, new NodeTuple(existing.getKeyNode(), merge(left, right)));
            } else {
                merged.put(key, copy(tuple));
            }
        }
        return new MappingNode(Tag.MAP, new ArrayList<>(merged.values()), base.getFlowStyle());
    }

    /** A tuple whose mappings can be changed without changing the original document. */
    private static NodeTuple copy(NodeTuple tuple) {
        Node value = tuple.getValueNode();
        if (value instanceof MappingNode mapping) {
            value = merge(mapping, new MappingNode(Tag.MAP, new ArrayList<>(), mapping.getFlowStyle()));
        }
        return new NodeTuple(tuple.getKeyNode(), value);
    }

    private static MappingNode without(MappingNode mapping, String key) {
        List<NodeTuple> kept = mapping.getValue().stream().filter(t -> !keyOf(t).equals(key)).toList();
        return new MappingNode(Tag.MAP, new ArrayList<>(kept), mapping.getFlowStyle());
    }

    private static String keyOf(NodeTuple tuple) {
        return tuple.getKeyNode() instanceof ScalarNode scalar ? scalar.getValue() : String.valueOf(tuple.getKeyNode());
    }

    static Node value(MappingNode mapping, String key) {
        for (NodeTuple tuple : mapping.getValue()) {
            if (keyOf(tuple).equals(key)) {
                return tuple.getValueNode();
            }
        }
        return null;
    }

    private static UserError error(String file, Node node, String key, String message) {
        int line = node != null && node.getStartMark() != null ? node.getStartMark().getLine() + 1 : 0;
        int column = node != null && node.getStartMark() != null ? node.getStartMark().getColumn() + 1 : 0;
        return new UserError(List.of(new Problem(file, line, column, key, null, message)));
    }
}
