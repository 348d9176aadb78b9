package dev.modalign.core.plugin;

/**
 * A plugin that did not load, and why; the others load regardless.
 *
 * @param source the jar, directory or class it came from
 * @param reason what went wrong and what would fix it
 */
public record PluginFailure(String source, String reason) {

    public String render() {
        return "plugin " + source + " was not loaded: " + reason;
    }
}
