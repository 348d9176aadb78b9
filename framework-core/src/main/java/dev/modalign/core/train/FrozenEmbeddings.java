package dev.modalign.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.TowerOutput;
import dev.modalign.core.compose.Tower;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The outputs of frozen towers, computed once per distinct input and served from memory afterwards: a frozen
 * tower without augmentations is a fixed function of its record's field, so from the second epoch on its
 * forward pass is pure waste (LiT's locked tower, a distillation teacher, one-encoder's anchors).
 *
 * <p>A batch is served from memory only when every row is held; otherwise the host encodes the batch (in
 * inference mode) and {@link #store}s its rows. Rows are keyed by the field's raw value (a path, a caption, the
 * bytes of a shard member, a vector), compared by content. Token outputs are kept too, each row with its own
 * length; rows of different lengths are padded with zeros and a zero mask when served. Holding stops once
 * {@code budgetFloats} values are held (later inputs are encoded every time, as without the cache).
 *
 * <p>An embedding is the one computed in the first batch that held its input; after a resume it is computed again
 * in another batch, which can differ in the last bits from the uninterrupted run's.
 *
 * <p>Threading: the training thread only.
 */
final class FrozenEmbeddings {

    private record Row(float[] embedding, float[] tokens, float[] mask, int length) {
        long size() {
            return embedding.length + (tokens == null ? 0 : tokens.length + mask.length);
        }
    }

    /** A raw field value compared by content, arrays included. */
    private record Key(Object value) {
        @Override
        public boolean equals(Object other) {
            return other instanceof Key key && java.util.Objects.deepEquals(value, key.value);
        }

        @Override
        public int hashCode() {
            return Arrays.deepHashCode(new Object[] {value});
        }
    }

    private final long budgetFloats;
    private final Map<String, Map<Key, Row>> held = new HashMap<>();
    private final Map<String, long[]> served = new HashMap<>();
    private long floatsHeld;
    private DataType maskType = DataType.FLOAT32;

    FrozenEmbeddings(long budgetFloats) {
        this.budgetFloats = budgetFloats;
    }

    /** Whether a tower's outputs can be held: frozen, not a momentum copy (it moves), no augmentation. */
    static boolean covers(Tower tower) {
        return tower.frozen() && !tower.isMomentum() && tower.augmentations().isEmpty();
    }

    /** Whether raw values of this kind compare by content (others would never be found again). */
    static boolean keyable(List<Object> raw) {
        if (raw == null || raw.isEmpty()) {
            return false;
        }
        for (Object value : raw) {
            if (!(value instanceof CharSequence || value instanceof java.nio.file.Path || value instanceof Number
                    || value instanceof byte[]
                    || value instanceof float[] || value instanceof double[] || value instanceof int[]
                    || value instanceof long[])) {
                return false;
            }
        }
        return true;
    }

    /** The tower's output for these rows from memory, made in {@code manager}; null unless every row is held. */
    TowerOutput lookup(String tower, List<Object> raw, NDManager manager) {
        Map<Key, Row> rows = held.get(tower);
        if (rows == null || !keyable(raw)) {
            return null;
        }
        Row[] found = new Row[raw.size()];
        for (int i = 0; i < found.length; i++) {
            found[i] = rows.get(new Key(raw.get(i)));
            if (found[i] == null) {
                return null;
            }
        }
        int dim = found[0].embedding.length;
        float[] embedding = new float[found.length * dim];
        for (int i = 0; i < found.length; i++) {
            System.arraycopy(found[i].embedding, 0, embedding, i * dim, dim);
        }
        NDArray embeddings = manager.create(embedding, new Shape(found.length, dim));
        served.computeIfAbsent(tower, t -> new long[1])[0]++;
        if (found[0].tokens == null) {
            return new TowerOutput(embeddings);
        }
        int length = Arrays.stream(found).mapToInt(Row::length).max().orElse(0);
        int tokenDim = found[0].tokens.length / found[0].length;
        float[] tokens = new float[found.length * length * tokenDim];
        float[] mask = new float[found.length * length];
        for (int i = 0; i < found.length; i++) {
            System.arraycopy(found[i].tokens, 0, tokens, i * length * tokenDim, found[i].tokens.length);
            System.arraycopy(found[i].mask, 0, mask, i * length, found[i].mask.length);
        }
        NDArray maskArray = manager.create(mask, new Shape(found.length, length));
        return new TowerOutput(embeddings, manager.create(tokens, new Shape(found.length, length, tokenDim)),
                maskType == DataType.FLOAT32 ? maskArray : maskArray.toType(maskType, false));
    }

    /** Holds the rows of a batch the host encoded, while the budget allows. */
    void store(String tower, List<Object> raw, TowerOutput output) {
        if (!keyable(raw) || output.embedding().getDataType() != DataType.FLOAT32
                || output.embedding().getShape().dimension() != 2) {
            return;
        }
        NDArray tokenArray = output.tokens();
        boolean withTokens = tokenArray != null && output.tokenMask() != null && tokenArray.getDataType() == DataType.FLOAT32
                && tokenArray.getShape().dimension() == 3;
        if (tokenArray != null && !withTokens) {
            return; // token outputs of a shape this cache does not know: encode every time
        }
        int rows = raw.size();
        float[] embedding = output.embedding().toFloatArray();
        int dim = embedding.length / rows;
        float[] tokens = withTokens ? tokenArray.toFloatArray() : null;
        float[] mask = null;
        int length = 0;
        if (withTokens) {
            maskType = output.tokenMask().getDataType();
            mask = output.tokenMask().toType(DataType.FLOAT32, false).toFloatArray();
            length = (int) tokenArray.getShape().get(1);
        }
        int tokenDim = withTokens ? (int) tokenArray.getShape().get(2) : 0;
        Map<Key, Row> towerRows = held.computeIfAbsent(tower, t -> new HashMap<>());
        for (int i = 0; i < rows; i++) {
            Key key = new Key(raw.get(i));
            if (towerRows.containsKey(key)) {
                continue;
            }
            Row row = new Row(Arrays.copyOfRange(embedding, i * dim, (i + 1) * dim),
                    withTokens ? Arrays.copyOfRange(tokens, i * length * tokenDim, (i + 1) * length * tokenDim) : null,
                    withTokens ? Arrays.copyOfRange(mask, i * length, (i + 1) * length) : null, length);
            if (floatsHeld + row.size() > budgetFloats) {
                return;
            }
            towerRows.put(key, row);
            floatsHeld += row.size();
        }
    }

    /** How many distinct inputs of the tower are held. */
    int held(String tower) {
        return held.getOrDefault(tower, Map.of()).size();
    }

    /** How many batches of the tower were served from memory. */
    long served(String tower) {
        return served.getOrDefault(tower, new long[1])[0];
    }
}
