package dev.modalign.core.plugin;

import dev.modalign.api.ComponentFactory;

/** A component factory and the plugin that registered it. */
public record RegisteredComponent(ComponentKind kind, ComponentFactory<?, ?> factory, LoadedPlugin plugin) {

    public String name() {
        return factory.name();
    }
}
