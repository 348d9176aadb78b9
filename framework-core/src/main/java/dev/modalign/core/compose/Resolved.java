package dev.modalign.core.compose;

import dev.modalign.core.config.Binder;
import dev.modalign.core.config.ComponentRef;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Bound values back to plain maps, lists and scalars: the resolved configuration a run records. */
public final class Resolved {

    private Resolved() {}

    /** A record as a map from snake_case key to plain value. */
    public static Map<String, Object> of(Record record) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (RecordComponent component : record.getClass().getRecordComponents()) {
            if (component.getType() == ComponentRef.class) {
                continue;
            }
            try {
                component.getAccessor().setAccessible(true);
                out.put(Binder.snake(component.getName()), plain(component.getAccessor().invoke(record)));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return out;
    }

    static Object plain(Object value) {
        if (value instanceof Record record) {
            return of(record);
        } else if (value instanceof List<?> list) {
            List<Object> out = new ArrayList<>();
            list.forEach(v -> out.add(plain(v)));
            return out;
        } else if (value instanceof Map<?, ?> map) {
            Map<String, Object> out = new LinkedHashMap<>();
            map.forEach((k, v) -> out.put(String.valueOf(k), plain(v)));
            return out;
        } else if (value instanceof Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
        } else if (value instanceof org.yaml.snakeyaml.nodes.Node node) {
            return plainNode(node);
        }
        return value;
    }

    /** A raw YAML value (kept unbound, e.g. a tracker's options) as plain maps, lists and strings. */
    private static Object plainNode(org.yaml.snakeyaml.nodes.Node node) {
        if (node instanceof org.yaml.snakeyaml.nodes.MappingNode mapping) {
            Map<String, Object> out = new LinkedHashMap<>();
            mapping.getValue().forEach(t -> out.put(((org.yaml.snakeyaml.nodes.ScalarNode) t.getKeyNode()).getValue(),
                    plainNode(t.getValueNode())));
            return out;
        } else if (node instanceof org.yaml.snakeyaml.nodes.SequenceNode sequence) {
            return sequence.getValue().stream().map(Resolved::plainNode).toList();
        }
        return ((org.yaml.snakeyaml.nodes.ScalarNode) node).getValue();
    }

    /** Flattens nested maps and lists to dotted keys: {@code losses.0.temperature -> 0.07}. */
    public static Map<String, String> flatten(Map<String, Object> resolved) {
        Map<String, String> out = new LinkedHashMap<>();
        flatten("", resolved, out);
        return out;
    }

    private static void flatten(String prefix, Object value, Map<String, String> out) {
        if (value instanceof Map<?, ?> map) {
            map.forEach((k, v) -> flatten(prefix.isEmpty() ? String.valueOf(k) : prefix + "." + k, v, out));
        } else if (value instanceof List<?> list && !list.isEmpty() && (list.get(0) instanceof Map)) {
            for (int i = 0; i < list.size(); i++) {
                flatten(prefix + "." + i, list.get(i), out);
            }
        } else {
            out.put(prefix, String.valueOf(value));
        }
    }
}
