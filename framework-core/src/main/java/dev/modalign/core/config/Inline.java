package dev.modalign.core.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks the {@link ComponentRef} of a record whose YAML mapping mixes the framework's keys with a
 * component's: the record's own keys are bound to it, and {@code type} with every other key forms
 * the component. E.g. a loss block {@code {type: clip, towers: [a, b], weight: 1, temperature: 0.07}}.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Inline {

    /** The key naming the component's type: {@code type}, or {@code source} for a dataset source. */
    String typeKey() default "type";
}
