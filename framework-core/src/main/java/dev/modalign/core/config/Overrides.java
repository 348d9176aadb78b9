package dev.modalign.core.config;

import dev.modalign.core.UserError;
import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Applies {@code --set path=value} assignments to a parsed experiment before it is bound, e.g.
 * {@code train.epochs=2}, {@code losses.0.temperature=0.1}, {@code towers.text.encoder={type: mlp}}.
 * The value is YAML; numbers index lists; missing keys and sections are added. Values keep the file's
 * checks: a wrong one is reported like any other, at {@code <--set>}.
 */
public final class Overrides {

    private Overrides() {}

    public static Node apply(Node root, List<String> assignments) {
        for (String assignment : assignments) {
            int equals = assignment.indexOf('=');
            if (equals <= 0) {
                throw new UserError("--set " + assignment + ": write path=value, e.g. --set train.epochs=2");
            }
            String path = assignment.substring(0, equals).trim();
            Node value = YamlDocument.parse(assignment.substring(equals + 1), "--set " + path);
            set(root, path, value);
        }
        return root;
    }

    private static void set(Node root, String path, Node value) {
        String[] keys = path.split("\\.");
        Node current = root;
        for (int i = 0; i < keys.length; i++) {
            boolean last = i == keys.length - 1;
            String key = keys[i];
            String at = String.join(".", java.util.Arrays.copyOf(keys, i + 1));
            if (current instanceof MappingNode mapping) {
                NodeTuple found = null;
                for (NodeTuple tuple : mapping.getValue()) {
                    if (tuple.getKeyNode() instanceof ScalarNode scalar && scalar.getValue().equals(key)) {
                        found = tuple;
                    }
                }
                if (last) {
                    List<NodeTuple> tuples = new ArrayList<>(mapping.getValue());
                    NodeTuple replacement = new NodeTuple(found != null ? found.getKeyNode()
                            : new ScalarNode(Tag.STR, key, value.getStartMark(), value.getEndMark(), org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN), value);
                    if (found != null) {
                        tuples.set(tuples.indexOf(found), replacement);
                    } else {
                        tuples.add(replacement);
                    }
                    mapping.setValue(tuples);
                    return;
                }
                if (found == null) {
                    // A missing section is created, so --set tracking.experiment=x works without a tracking: block.
                    MappingNode section = new MappingNode(Tag.MAP, true, new ArrayList<>(), value.getStartMark(),
                            value.getEndMark(), org.yaml.snakeyaml.DumperOptions.FlowStyle.BLOCK);
                    List<NodeTuple> tuples = new ArrayList<>(mapping.getValue());
                    tuples.add(new NodeTuple(new ScalarNode(Tag.STR, key, value.getStartMark(), value.getEndMark(),
                            org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN), section));
                    mapping.setValue(tuples);
                    current = section;
                    continue;
                }
                current = found.getValueNode();
            } else if (current instanceof SequenceNode sequence && key.matches("\\d+")) {
                int index = Integer.parseInt(key);
                if (index >= sequence.getValue().size()) {
                    throw new UserError("--set " + path + ": '" + String.join(".", java.util.Arrays.copyOf(keys, i))
                            + "' has " + sequence.getValue().size() + " entries, no " + index);
                }
                if (last) {
                    sequence.getValue().set(index, value);
                    return;
                }
                current = sequence.getValue().get(index);
            } else {
                throw new UserError("--set " + path + ": '" + String.join(".", java.util.Arrays.copyOf(keys, i))
                        + "' is not a mapping or list");
            }
        }
    }
}
