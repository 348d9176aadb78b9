package dev.modalign.api;

import java.util.function.BiFunction;

/**
 * Creates one kind of component from its typed parameters.
 *
 * <p>The parameters are a Java record bound from the component's YAML block: each record component
 * is a key (written in snake_case in YAML: {@code embedDim} is {@code embed_dim}), annotated with
 * {@link Doc} and, where it is optional, {@link Default}. A record's compact constructor validates
 * and throws {@link InvalidParamException} naming the key; the host reports it with the YAML file,
 * line and column.
 *
 * <p>The kind of component (loss, encoder, ...) is given by the {@link Plugin} method that returns
 * the factory.
 *
 * @param <P> the parameter record
 * @param <T> the component
 */
public interface ComponentFactory<P extends Record, T> {

    /** The name used as {@code type:} in YAML, e.g. {@code clip}. Lower case, words joined by '-'. */
    String name();

    /** One line: what it is, citing the paper's title where it implements one. */
    String description();

    /** The parameter record bound from YAML; {@link NoParams} when it takes none. */
    Class<P> paramsType();

    /**
     * Creates the component. Called once per run, on the thread that composes the run.
     *
     * @throws InvalidParamException when the parameters do not fit together or with the context
     */
    T create(P params, ComponentContext context);

    /** A factory from a name, a description, the parameter record and a constructor. */
    static <P extends Record, T> ComponentFactory<P, T> of(
            String name, String description, Class<P> paramsType, BiFunction<P, ComponentContext, T> create) {
        return new ComponentFactory<>() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public String description() {
                return description;
            }

            @Override
            public Class<P> paramsType() {
                return paramsType;
            }

            @Override
            public T create(P params, ComponentContext context) {
                return create.apply(params, context);
            }

            @Override
            public String toString() {
                return name;
            }
        };
    }
}
