package dev.modalign.core.cli;

import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.core.config.Binder;
import dev.modalign.core.plugin.ComponentKind;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.plugin.RegisteredComponent;
import java.lang.reflect.RecordComponent;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code modalign plugins}: every component by kind, with its plugin, version and description. */
@Command(name = "plugins", mixinStandardHelpOptions = true,
        description = "List every component (modalities, encoders, losses, augmentations, evaluators, dataset sources, "
                + "trackers) with its plugin, version and description; --params adds each parameter.")
final class PluginsCommand implements Callable<Integer> {

    @Mixin
    PluginOptions plugins;

    @Option(names = "--params", description = "Also list each component's parameters with type, default and description.")
    boolean params;

    @Override
    public Integer call() {
        PluginRegistry registry = plugins.load(System.err);
        // Columns as wide as the longest name, so that every description starts in the same place.
        int nameWidth = 4;
        int pluginWidth = 6;
        for (ComponentKind kind : ComponentKind.values()) {
            for (RegisteredComponent component : registry.all(kind)) {
                nameWidth = Math.max(nameWidth, component.name().length());
                pluginWidth = Math.max(pluginWidth, component.plugin().name().length());
            }
        }
        String row = "  %-" + nameWidth + "s %-" + pluginWidth + "s %-8s %s%n";
        for (ComponentKind kind : ComponentKind.values()) {
            if (registry.all(kind).isEmpty()) {
                continue;
            }
            System.out.println(kind.plural() + ":");
            for (RegisteredComponent component : registry.all(kind)) {
                System.out.printf(row, component.name(), component.plugin().name(),
                        component.plugin().version(), component.factory().description());
                if (params) {
                    for (RecordComponent c : component.factory().paramsType().getRecordComponents()) {
                        Default def = c.getAnnotation(Default.class);
                        Doc doc = c.getAnnotation(Doc.class);
                        System.out.printf("      %-20s %-10s %-12s %s%n", Binder.snake(c.getName()),
                                c.getType().getSimpleName(), def == null ? "(required)" : "= " + def.value(),
                                doc == null ? "" : doc.value());
                    }
                }
            }
        }
        registry.conflicts().forEach(conflict -> System.err.println("conflict: " + conflict));
        return registry.conflicts().isEmpty() && registry.failures().isEmpty() ? Main.OK : Main.FAILURE;
    }
}
