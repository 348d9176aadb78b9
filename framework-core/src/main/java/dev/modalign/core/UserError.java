package dev.modalign.core;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The one error type a user sees: bad input that they can fix. It carries every problem found, each
 * with its location and what would fix it. The CLI prints it without a stack trace and exits with 2.
 */
public class UserError extends RuntimeException {

    private final List<Problem> problems;

    public UserError(List<Problem> problems) {
        super(render(problems));
        this.problems = List.copyOf(problems);
    }

    public UserError(String message) {
        this(List.of(Problem.general(message)));
    }

    public List<Problem> problems() {
        return problems;
    }

    private static String render(List<Problem> problems) {
        return problems.stream().map(Problem::render).collect(Collectors.joining("\n"));
    }

    /**
     * One problem: where it is, which key and component, what is wrong and what would fix it.
     *
     * @param file the file, or null when the problem has no file
     * @param line 1-based, or 0 when unknown
     * @param column 1-based, or 0 when unknown
     * @param key the dotted path of the key (losses[0].temperature), or null
     * @param component the component the key belongs to (e.g. "clip"), or null
     * @param message what is wrong, what was found, and the fix
     */
    public record Problem(String file, int line, int column, String key, String component, String message) {

        public static Problem general(String message) {
            return new Problem(null, 0, 0, null, null, message);
        }

        /** {@code file:line:col key [component] message}, leaving out what is unknown. */
        public String render() {
            StringBuilder out = new StringBuilder();
            if (file != null) {
                out.append(file);
                if (line > 0) {
                    out.append(':').append(line).append(':').append(column);
                }
                out.append(' ');
            }
            if (key != null && !key.isEmpty()) {
                out.append(key).append(' ');
            }
            if (component != null) {
                out.append('[').append(component).append("] ");
            }
            return out.append(message).toString();
        }
    }
}
