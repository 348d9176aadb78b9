package dev.modalign.plugins.encoders;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.InvalidParamException;

/** The error an encoder raises when its tower's modality produces an input it cannot read. */
final class InputMismatch {

    private InputMismatch() {}

    /**
     * E.g. "cnn needs image input; tower 'text' has tokens: use transformer or mlp". The key is
     * {@code type}, because choosing another encoder type is the fix.
     */
    static InvalidParamException of(String encoder, String needs, ComponentContext context, String fix) {
        String tower = context.towers().isEmpty() ? "this tower" : "tower '" + context.towers().get(0) + "'";
        return new InvalidParamException("type", encoder + " needs " + needs + " input; " + tower + " has "
                + context.input().kind() + ": " + fix);
    }
}
