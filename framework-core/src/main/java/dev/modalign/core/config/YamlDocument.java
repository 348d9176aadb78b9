package dev.modalign.core.config;

import dev.modalign.core.UserError;
import dev.modalign.core.UserError.Problem;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Reads an experiment file into SnakeYAML's node tree, which keeps every value's line and column.
 * Nothing is constructed here: no Java type named in the file is ever instantiated, and the binder
 * refuses tags outside YAML's core schema. Size, nesting and alias expansion are limited so that a
 * hostile file fails fast with a located message instead of exhausting memory.
 */
public final class YamlDocument {

    static final int MAX_CODE_POINTS = 1_000_000;
    static final int MAX_NESTING = 40;
    static final int MAX_ALIASES = 20;

    private YamlDocument() {}

    /** Reads a file; a missing file or a syntax error is a {@link UserError} naming the file and place. */
    public static Node read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserError("no such file: " + file + " (paths are relative to the current directory)");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new UserError(file + " is not UTF-8 text; an experiment file is YAML written in UTF-8 (is this the right"
                    + " file?)");
        } catch (IOException e) {
            throw new UserError("cannot read " + file + ": " + e.getMessage());
        }
        return parse(text, file.toString());
    }

    /** Parses YAML text; {@code name} names it in messages. */
    public static Node parse(String text, String name) {
        if (text.codePointCount(0, text.length()) > MAX_CODE_POINTS) {
            throw new UserError(name + " is larger than " + MAX_CODE_POINTS
                    + " characters; an experiment file is a few hundred lines: is this the right file?");
        }
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(MAX_ALIASES);
        options.setAllowRecursiveKeys(false);
        options.setNestingDepthLimit(MAX_NESTING);
        options.setCodePointLimit(MAX_CODE_POINTS * 4);
        Yaml yaml = new Yaml(new SafeConstructor(options));
        try (Reader reader = new StringReader(text)) {
            Node root = yaml.compose(reader);
            if (root == null) {
                throw new UserError(name + " is empty; see experiments/quickstart.yaml for the shape of an experiment");
            }
            refuseCycles(root, java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()),
                    java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()), name);
            return root;
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String what = (e.getContext() != null ? e.getContext() + ", " : "") + e.getProblem();
            if (e.getProblem() != null && e.getProblem().startsWith("Global tag is not allowed")) {
                what = "tags that name Java classes are not allowed (" + e.getProblem().replaceFirst(".*: ", "")
                        + "); write a plain value";
            }
            throw new UserError(java.util.List.of(new Problem(name, mark == null ? 0 : mark.getLine() + 1,
                    mark == null ? 0 : mark.getColumn() + 1, null, null, "YAML syntax: " + what)));
        } catch (YAMLException e) {
            throw new UserError(name + ": YAML: " + firstLine(e.getMessage()));
        } catch (IOException e) {
            throw new UserError("cannot read " + name + ": " + e.getMessage());
        }
    }

    /**
     * Refuses an alias inside the node it names ({@code x: &a [*a]}): SnakeYAML composes it as a cycle,
     * which everything that walks the document would follow forever. {@code open} holds the nodes on the
     * path from the root, {@code done} those already checked (a node reached twice through aliases is
     * checked once).
     */
    private static void refuseCycles(Node node, java.util.Set<Node> open, java.util.Set<Node> done, String name) {
        if (done.contains(node)) {
            return;
        }
        if (!open.add(node)) {
            Mark mark = node.getStartMark();
            throw new UserError(java.util.List.of(new Problem(name, mark == null ? 0 : mark.getLine() + 1,
                    mark == null ? 0 : mark.getColumn() + 1, null, null, "YAML syntax: the anchor "
                    + (node.getAnchor() == null ? "" : "&" + node.getAnchor() + " ") + "is used inside the value it names, a"
                    + " cycle no experiment can hold; write the values out instead of the alias")));
        }
        if (node instanceof org.yaml.snakeyaml.nodes.MappingNode mapping) {
            for (org.yaml.snakeyaml.nodes.NodeTuple tuple : mapping.getValue()) {
                refuseCycles(tuple.getKeyNode(), open, done, name);
                refuseCycles(tuple.getValueNode(), open, done, name);
            }
        } else if (node instanceof org.yaml.snakeyaml.nodes.SequenceNode sequence) {
            for (Node item : sequence.getValue()) {
                refuseCycles(item, open, done, name);
            }
        }
        open.remove(node);
        done.add(node);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable YAML";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
