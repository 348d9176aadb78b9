package dev.modalign.core.config;

import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;

/**
 * A component named in YAML, not yet bound to its factory's parameters: {@code {type: cnn,
 * embed_dim: 128}} or the shorthand {@code cnn}.
 *
 * @param type the component name
 * @param params the mapping of its parameters (without {@code type})
 * @param node where it was written, for messages
 * @param path the dotted key path (towers.image.encoder)
 */
public record ComponentRef(String type, MappingNode params, Node node, String path) {}
