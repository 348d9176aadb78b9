package dev.modalign.core.plugin;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.core.UserError;
import dev.modalign.core.config.Suggestions;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Every component of every loaded plugin, by kind and name; plus the plugins that failed to load and
 * the names two plugins both claim.
 */
public final class PluginRegistry {

    private final List<LoadedPlugin> plugins;
    private final List<PluginFailure> failures;
    private final Map<ComponentKind, Map<String, RegisteredComponent>> components = new EnumMap<>(ComponentKind.class);
    private final List<String> conflicts = new ArrayList<>();

    PluginRegistry(List<LoadedPlugin> plugins, List<PluginFailure> failures, List<RegisteredComponent> registered) {
        this.plugins = List.copyOf(plugins);
        this.failures = List.copyOf(failures);
        for (ComponentKind kind : ComponentKind.values()) {
            components.put(kind, new TreeMap<>());
        }
        for (RegisteredComponent component : registered) {
            RegisteredComponent earlier = components.get(component.kind()).putIfAbsent(component.name(), component);
            if (earlier != null) {
                conflicts.add(component.kind().label() + " '" + component.name() + "' is registered by both plugin '"
                        + earlier.plugin().name() + "' (" + earlier.plugin().source() + ") and plugin '"
                        + component.plugin().name() + "' (" + component.plugin().source()
                        + "); remove one of the jars or rename the component in one of them");
            }
        }
    }

    public List<LoadedPlugin> plugins() {
        return plugins;
    }

    public List<PluginFailure> failures() {
        return failures;
    }

    /** Names claimed by two plugins; a run refuses to start while there is any. */
    public List<String> conflicts() {
        return conflicts;
    }

    /** Throws a {@link UserError} naming both plugins of every conflicting name. */
    public void requireNoConflicts() {
        if (!conflicts.isEmpty()) {
            throw new UserError(conflicts.stream().map(UserError.Problem::general).toList());
        }
    }

    public Optional<RegisteredComponent> find(ComponentKind kind, String name) {
        return Optional.ofNullable(components.get(kind).get(name));
    }

    public List<String> names(ComponentKind kind) {
        return List.copyOf(components.get(kind).keySet());
    }

    public List<RegisteredComponent> all(ComponentKind kind) {
        return List.copyOf(components.get(kind).values());
    }

    /** The message for a name nobody registered: the closest known names, or all of them. */
    public String unknown(ComponentKind kind, String name) {
        List<String> known = names(kind);
        String hint = Suggestions.didYouMean(name, known);
        return "unknown " + kind.label() + " '" + name + "'" + (hint.isEmpty() ? "" : hint)
                + (known.isEmpty() ? "; no plugin provides any " + kind.label() + ": is the plugin directory right?"
                        : "; known: " + String.join(", ", known));
    }

    /** Creates a component with the plugin's class loader as the thread's context loader. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public <T> T create(RegisteredComponent component, Record params, ComponentContext context) {
        ComponentFactory factory = component.factory();
        return (T) callInto(component.plugin(), () -> factory.create(params, context));
    }

    /** Runs a call into a plugin with its class loader as the context loader. */
    public static <T> T callInto(LoadedPlugin plugin, Supplier<T> call) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(plugin.loader());
        try {
            return call.get();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }
}
