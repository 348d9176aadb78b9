package dev.modalign.plugins.compneg;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.BatchEncoder;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.ArrayList;
import java.util.List;

/**
 * The loss contract with every perturbation and a learned temperature. The batch's captions are made up row by row
 * and their hard negatives encoded by word hashing (constant arrays: the contract reads the gradients of the
 * towers' embeddings, which the negatives are not).
 */
class HardNegativeClipLossContractTest extends AbstractLossContractTest<HardNegativeClipLoss.Params> {

    private static final String[] COLOURS = {"red", "blue", "green", "yellow"};
    private static final String[] THINGS = {"ball", "box", "frog", "teapot", "snail"};

    @Override
    protected ComponentFactory<HardNegativeClipLoss.Params, Loss> factory() {
        return CompositionalNegativesPlugin.LOSS;
    }

    @Override
    protected HardNegativeClipLoss.Params params() {
        return new HardNegativeClipLoss.Params(List.of("swap-words", "shuffle-words", "swap-phrases", "replace-word"),
                15, 0.07, true, 100);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "text");
    }

    @Override
    protected BatchEncoder batchEncoder(EncodedBatch batch, NDManager stepManager) {
        List<Object> captions = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            captions.add("a " + COLOURS[i % 4] + " " + THINGS[i % 5] + " on a " + COLOURS[(i + 1) % 4] + " "
                    + THINGS[(i + 2) % 5]);
        }
        int dim = embedDim();
        return new BatchEncoder() {
            @Override
            public List<Object> rawValues(String tower) {
                return captions;
            }

            @Override
            public TowerOutput encode(String tower, List<?> rawValues) {
                return new TowerOutput(WordHashEncoder.encode(stepManager, rawValues, dim, true));
            }
        };
    }
}
