package dev.modalign.plugins.softmultilabel;

import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Encoder;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.NoParams;
import dev.modalign.api.VectorSpec;

/**
 * The embedding is the input vector itself, with no parameters. It lets a loss read per-record data
 * that is not a learned representation (the multi-hot label vector of the {@code multi-hot} modality)
 * as a tower's embedding, since losses see towers only. Declare such a tower {@code frozen: true} and
 * name it in no other loss or evaluator.
 */
public final class IdentityEncoder implements Encoder {

    private final int size;
    private final Block block = Blocks.identityBlock();

    public IdentityEncoder(NoParams params, ComponentContext context) {
        if (!(context.input() instanceof VectorSpec vector)) {
            String tower = context.towers().isEmpty() ? "this tower" : "tower '" + context.towers().get(0) + "'";
            throw new InvalidParamException("type", "identity needs vector input; " + tower + " has "
                    + (context.input() == null ? "none" : context.input().kind())
                    + ": use it with a vector modality such as multi-hot, or another encoder");
        }
        this.size = vector.size();
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return size;
    }
}
