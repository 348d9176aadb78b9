package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Doc;
import java.lang.reflect.RecordComponent;
import org.junit.jupiter.api.Test;

/** What every component factory must satisfy, whatever its kind. */
public abstract class PluginContract {

    /** The factory whose component is under test. */
    protected abstract ComponentFactory<?, ?> factoryUnderTest();

    @Test
    void factoryIsNamedAndDescribed() {
        ComponentFactory<?, ?> factory = factoryUnderTest();
        assertTrue(factory.name().matches("[a-z][a-z0-9]*(-[a-z0-9]+)*"),
                "component names are lower case words joined by '-', found '" + factory.name() + "'");
        assertFalse(factory.description() == null || factory.description().isBlank(),
                factory.name() + " has no description");
    }

    @Test
    void everyParameterIsDocumented() {
        Class<? extends Record> params = factoryUnderTest().paramsType();
        for (RecordComponent component : params.getRecordComponents()) {
            assertTrue(component.isAnnotationPresent(Doc.class),
                    params.getName() + "." + component.getName() + " has no @Doc: users see it in 'modalign plugins'");
        }
    }
}
