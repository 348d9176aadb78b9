package dev.modalign.core.plugin;

import dev.modalign.api.Plugin;

/**
 * A plugin that loaded.
 *
 * @param name the plugin's name
 * @param version the plugin's version
 * @param source where it came from: "built in" or the jar or directory
 * @param plugin its entry object
 * @param loader the class loader to set as the thread's context loader around calls into it
 */
public record LoadedPlugin(String name, String version, String source, Plugin plugin, ClassLoader loader) {}
