package dev.modalign.core.sweep;

import java.util.stream.Collectors;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/** A YAML node written back as one line of flow-style YAML, the form {@code --set path=value} reads. */
final class NodeText {

    private NodeText() {}

    static String of(Node node) {
        if (node instanceof ScalarNode scalar) {
            return scalar.getScalarStyle() == DumperOptions.ScalarStyle.PLAIN ? scalar.getValue() : quoted(scalar.getValue());
        }
        if (node instanceof SequenceNode sequence) {
            return sequence.getValue().stream().map(NodeText::of).collect(Collectors.joining(", ", "[", "]"));
        }
        if (node instanceof MappingNode mapping) {
            return mapping.getValue().stream().map(t -> of(t.getKeyNode()) + ": " + of(t.getValueNode()))
                    .collect(Collectors.joining(", ", "{", "}"));
        }
        throw new IllegalArgumentException("cannot write a " + node.getNodeId() + " node as a value");
    }

    /** A string that stays a string however it looks ("1e-3", "true", "a: b"). */
    static String quoted(String value) {
        return "'" + value.replace("'", "''") + "'";
    }
}
