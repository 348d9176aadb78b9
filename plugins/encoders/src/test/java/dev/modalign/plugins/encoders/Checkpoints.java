package dev.modalign.plugins.encoders;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Copies a block's parameters into another through DJL's checkpoint format, as the host's checkpoints do. */
final class Checkpoints {

    private Checkpoints() {}

    static void copy(Block from, Block to, NDManager manager) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                from.saveParameters(out);
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                to.loadParameters(manager, in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (MalformedModelException e) {
            throw new AssertionError("a saved block did not load back", e);
        }
    }
}
