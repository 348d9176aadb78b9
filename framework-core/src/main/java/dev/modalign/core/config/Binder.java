package dev.modalign.core.config;

import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import dev.modalign.core.UserError;
import dev.modalign.core.UserError.Problem;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Binds YAML nodes to typed records, collecting every problem rather than stopping at the first, so
 * that one run of {@code modalign validate} shows them all. Each problem names the file, line and
 * column, the key path, the component, what was expected and what was found, and for an unknown key
 * the closest known ones.
 *
 * <p>Supported types: records (keys are the snake_case of component names), String, int, long,
 * double, float, boolean and their boxes, enums, {@code List<T>}, {@code Map<String, T>}, {@link
 * ComponentRef} and raw {@link Node}.
 */
public final class Binder {

    private static final Set<String> CORE_TAGS = Set.of(Tag.STR.getValue(), Tag.INT.getValue(), Tag.FLOAT.getValue(),
            Tag.BOOL.getValue(), Tag.NULL.getValue(), Tag.MAP.getValue(), Tag.SEQ.getValue());

    private final String file;
    private final List<Problem> problems = new ArrayList<>();

    /** @param file the file's name as it should appear in messages */
    public Binder(String file) {
        this.file = file;
    }

    public List<Problem> problems() {
        return problems;
    }

    /** Throws a {@link UserError} with every problem collected so far, if there is any. */
    public void throwIfProblems() {
        if (!problems.isEmpty()) {
            throw new UserError(problems);
        }
    }

    /** Records a problem at a node. */
    public void problem(Node node, String path, String component, String message) {
        boolean located = node != null && node.getStartMark() != null;
        int line = located ? node.getStartMark().getLine() + 1 : 0;
        int column = located ? node.getStartMark().getColumn() + 1 : 0;
        problems.add(new Problem(file, line, column, path, component, message));
    }

    /**
     * Binds a node to a type; returns null (and records a problem) when it does not fit.
     *
     * @param path the dotted key path of the node, for messages
     * @param component the component whose parameters these are, or null for the experiment's own keys
     */
    public Object bind(Node node, Type type, String path, String component) {
        if (!CORE_TAGS.contains(node.getTag().getValue())) {
            problem(node, path, component, "YAML tags are not allowed here, found " + node.getTag()
                    + "; write a plain value");
            return null;
        }
        Class<?> raw = rawClass(type);
        if (isNull(node) && !raw.isPrimitive()) {
            return null;
        }
        if (raw == Node.class) {
            return node;
        }
        if (raw == ComponentRef.class) {
            return bindComponentRef(node, path, component, "type");
        }
        if (raw.isRecord()) {
            if (!(node instanceof MappingNode mapping)) {
                problem(node, path, component, "expected a mapping of keys (" + keysOf(raw) + "), found " + describe(node));
                return null;
            }
            return bindRecord(mapping, raw.asSubclass(Record.class), path, component);
        }
        if (List.class.isAssignableFrom(raw)) {
            return bindList(node, elementType(type, 0), path, component);
        }
        if (Map.class.isAssignableFrom(raw)) {
            return bindMap(node, elementType(type, 1), path, component);
        }
        return bindScalar(node, raw, path, component);
    }

    /** Binds a mapping to a record, with defaults for absent keys and the record's own validation. */
    public <R extends Record> R bindRecord(MappingNode mapping, Class<R> type, String path, String component) {
        int problemsBefore = problems.size();
        Map<String, NodeTuple> entries = entries(mapping, path, component);
        RecordComponent[] components = type.getRecordComponents();
        Map<String, RecordComponent> byKey = new LinkedHashMap<>();
        RecordComponent inline = null;
        for (RecordComponent c : components) {
            if (c.isAnnotationPresent(Inline.class)) {
                inline = c;
            } else {
                byKey.put(snake(c.getName()), c);
            }
        }
        Object[] values = new Object[components.length];
        Map<String, Node> valueNodes = new LinkedHashMap<>();
        List<NodeTuple> rest = new ArrayList<>();
        for (Map.Entry<String, NodeTuple> entry : entries.entrySet()) {
            if (byKey.containsKey(entry.getKey())) {
                valueNodes.put(entry.getKey(), entry.getValue().getValueNode());
            } else if (inline != null) {
                rest.add(entry.getValue());
            } else {
                problem(entry.getValue().getKeyNode(), join(path, entry.getKey()), component,
                        "unknown key '" + entry.getKey() + "'" + hint(entry.getKey(), byKey.keySet()));
            }
        }
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            if (c == inline) {
                Object ref = bindComponentRef(mappingOf(mapping, rest), path, component, c.getAnnotation(Inline.class).typeKey());
                // Messages about the framework's keys (towers, weight) point into the whole block.
                values[i] = ref == null ? null
                        : new ComponentRef(((ComponentRef) ref).type(), ((ComponentRef) ref).params(), mapping, path);
                continue;
            }
            String key = snake(c.getName());
            Node valueNode = valueNodes.get(key);
            if (valueNode != null) {
                values[i] = bind(valueNode, c.getGenericType(), join(path, key), component);
            } else if (c.isAnnotationPresent(Default.class)) {
                String text = c.getAnnotation(Default.class).value();
                Node defaultNode = text.isEmpty()
                        ? new ScalarNode(Tag.STR, "", null, null, DumperOptions.ScalarStyle.PLAIN)
                        : YamlDocument.parse(text, "@Default of " + key);
                values[i] = bind(defaultNode, c.getGenericType(), join(path, key), component);
            } else {
                Doc doc = c.getAnnotation(Doc.class);
                problem(mapping, join(path, key), component, "missing key '" + key + "'"
                        + (doc != null ? ": " + doc.value() : ""));
            }
        }
        if (problems.size() > problemsBefore) {
            return null;
        }
        return construct(type, values, mapping, valueNodes, path, component);
    }

    private <R extends Record> R construct(Class<R> type, Object[] values, MappingNode mapping,
            Map<String, Node> valueNodes, String path, String component) {
        Class<?>[] parameterTypes = Arrays.stream(type.getRecordComponents()).map(RecordComponent::getType)
                .toArray(Class<?>[]::new);
        try {
            Constructor<R> constructor = type.getDeclaredConstructor(parameterTypes);
            constructor.setAccessible(true);
            return constructor.newInstance(values);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof InvalidParamException invalid) {
                String key = invalid.key();
                Node at = valueNodes.getOrDefault(key == null ? "" : key.split("[.\\[]")[0], mapping);
                problem(at, join(path, key), component, invalid.getMessage());
            } else {
                problem(mapping, path, component, String.valueOf(cause.getMessage()));
            }
            return null;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot construct " + type.getName() + ": " + e, e);
        }
    }

    private Object bindComponentRef(Node node, String path, String component, String typeKey) {
        if (node instanceof ScalarNode scalar && !scalar.getValue().isBlank()) {
            MappingNode empty = new MappingNode(Tag.MAP, true, new ArrayList<>(), node.getStartMark(), node.getEndMark(),
                    DumperOptions.FlowStyle.FLOW);
            return new ComponentRef(scalar.getValue(), empty, node, path);
        }
        if (!(node instanceof MappingNode mapping)) {
            problem(node, path, component, "expected a component: a name, or a mapping with 'type:', found " + describe(node));
            return null;
        }
        Map<String, NodeTuple> entries = entries(mapping, path, component);
        NodeTuple type = entries.get(typeKey);
        if (type == null || !(type.getValueNode() instanceof ScalarNode typeName)) {
            problem(node, join(path, typeKey), component, "missing key '" + typeKey + "': the name of the component to use");
            return null;
        }
        List<NodeTuple> params = new ArrayList<>(mapping.getValue());
        params.remove(type);
        return new ComponentRef(typeName.getValue(), mappingOf(mapping, params), node, path);
    }

    private static MappingNode mappingOf(MappingNode like, List<NodeTuple> tuples) {
        return new MappingNode(Tag.MAP, true, tuples, like.getStartMark(), like.getEndMark(), like.getFlowStyle());
    }

    private List<Object> bindList(Node node, Type elementType, String path, String component) {
        if (node instanceof ScalarNode && !rawClass(elementType).isRecord()) {
            Object single = bind(node, elementType, path, component);
            return single == null ? null : List.of(single);
        }
        if (!(node instanceof SequenceNode sequence)) {
            problem(node, path, component, "expected a list, found " + describe(node));
            return null;
        }
        int problemsBefore = problems.size();
        List<Object> out = new ArrayList<>();
        List<Node> items = sequence.getValue();
        for (int i = 0; i < items.size(); i++) {
            out.add(bind(items.get(i), elementType, path + "[" + i + "]", component));
        }
        return problems.size() == problemsBefore ? java.util.Collections.unmodifiableList(out) : null;
    }

    private Map<String, Object> bindMap(Node node, Type valueType, String path, String component) {
        if (!(node instanceof MappingNode mapping)) {
            problem(node, path, component, "expected a mapping, found " + describe(node));
            return null;
        }
        int problemsBefore = problems.size();
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, NodeTuple> entry : entries(mapping, path, component).entrySet()) {
            out.put(entry.getKey(), bind(entry.getValue().getValueNode(), valueType, join(path, entry.getKey()), component));
        }
        return problems.size() == problemsBefore ? java.util.Collections.unmodifiableMap(out) : null;
    }

    private Object bindScalar(Node node, Class<?> type, String path, String component) {
        if (!(node instanceof ScalarNode scalar)) {
            problem(node, path, component, "expected " + expected(type) + ", found " + describe(node));
            return null;
        }
        String text = scalar.getValue().trim();
        if (isNull(node)) {
            if (type.isPrimitive()) {
                problem(node, path, component, "expected " + expected(type) + ", found nothing");
            }
            return null;
        }
        try {
            if (type == String.class) {
                return scalar.getValue();
            } else if (type == int.class || type == Integer.class) {
                return Integer.valueOf(integerText(text));
            } else if (type == long.class || type == Long.class) {
                return Long.valueOf(integerText(text));
            } else if (type == double.class || type == Double.class) {
                return Double.valueOf(text);
            } else if (type == float.class || type == Float.class) {
                return Float.valueOf(text);
            } else if (type == boolean.class || type == Boolean.class) {
                return switch (text.toLowerCase(Locale.ROOT)) {
                    case "true", "yes", "on" -> Boolean.TRUE;
                    case "false", "no", "off" -> Boolean.FALSE;
                    default -> throw new NumberFormatException();
                };
            } else if (type.isEnum()) {
                for (Object constant : type.getEnumConstants()) {
                    if (((Enum<?>) constant).name().equalsIgnoreCase(text.replace('-', '_'))) {
                        return constant;
                    }
                }
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            String hint = type.isEnum() ? hint(text, enumNames(type)) : "";
            problem(node, path, component, "expected " + expected(type) + ", found '" + scalar.getValue() + "'" + hint);
            return null;
        }
        throw new IllegalStateException("unsupported parameter type " + type.getName() + " at " + path);
    }

    /** Integers may be written as 1000, 1_000 or 1e3. */
    private static String integerText(String text) {
        String plain = text.replace("_", "");
        if (plain.matches("[-+]?\\d+(\\.0*)?[eE][+]?\\d+")) {
            return new java.math.BigDecimal(plain).toBigIntegerExact().toString();
        }
        return plain;
    }

    private Map<String, NodeTuple> entries(MappingNode mapping, String path, String component) {
        Map<String, NodeTuple> entries = new LinkedHashMap<>();
        for (NodeTuple tuple : mapping.getValue()) {
            if (!(tuple.getKeyNode() instanceof ScalarNode key)) {
                problem(tuple.getKeyNode(), path, component, "keys must be plain names, found " + describe(tuple.getKeyNode()));
                continue;
            }
            if (!CORE_TAGS.contains(key.getTag().getValue())) {
                problem(key, path, component, "YAML tags are not allowed here, found " + key.getTag());
                continue;
            }
            if (entries.containsKey(key.getValue())) {
                problem(key, join(path, key.getValue()), component, "duplicate key '" + key.getValue()
                        + "' (first at line " + (entries.get(key.getValue()).getKeyNode().getStartMark().getLine() + 1) + ")");
                continue;
            }
            entries.put(key.getValue(), tuple);
        }
        return entries;
    }

    private static String hint(String key, java.util.Collection<String> known) {
        String suggestion = Suggestions.didYouMean(key, known);
        return suggestion.isEmpty() ? "; known keys: " + String.join(", ", known) : suggestion;
    }

    private static List<String> enumNames(Class<?> type) {
        return Arrays.stream(type.getEnumConstants())
                .map(c -> ((Enum<?>) c).name().toLowerCase(Locale.ROOT).replace('_', '-')).toList();
    }

    private static String keysOf(Class<?> record) {
        return String.join(", ", Arrays.stream(record.getRecordComponents())
                .filter(c -> !c.isAnnotationPresent(Inline.class)).map(c -> snake(c.getName())).toList());
    }

    private static String expected(Class<?> type) {
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "an integer";
        } else if (type == double.class || type == Double.class || type == float.class || type == Float.class) {
            return "a number";
        } else if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        } else if (type.isEnum()) {
            return "one of " + String.join(", ", enumNames(type));
        }
        return "a text value";
    }

    private static boolean isNull(Node node) {
        return node instanceof ScalarNode && node.getTag().equals(Tag.NULL);
    }

    static String describe(Node node) {
        if (node instanceof MappingNode) {
            return "a mapping";
        } else if (node instanceof SequenceNode) {
            return "a list";
        } else if (isNull(node)) {
            return "nothing";
        }
        return "'" + ((ScalarNode) node).getValue() + "'";
    }

    /** camelCase to snake_case: embedDim is embed_dim. */
    public static String snake(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }

    private static String join(String path, String key) {
        if (key == null || key.isEmpty()) {
            return path;
        }
        return path == null || path.isEmpty() ? key : path + "." + key;
    }

    private static Class<?> rawClass(Type type) {
        if (type instanceof Class<?> c) {
            return c;
        }
        if (type instanceof ParameterizedType p) {
            return (Class<?>) p.getRawType();
        }
        throw new IllegalStateException("unsupported parameter type " + type);
    }

    private static Type elementType(Type type, int index) {
        if (type instanceof ParameterizedType p) {
            return p.getActualTypeArguments()[index];
        }
        return String.class;
    }
}
