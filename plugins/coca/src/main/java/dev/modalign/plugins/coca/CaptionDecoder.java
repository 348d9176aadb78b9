package dev.modalign.plugins.coca;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import dev.modalign.api.Scalars;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * CoCa's multimodal text decoder ("CoCa: Contrastive Captioners are Image-Text Foundation Models", Yu et
 * al., 2022, section 3.2), small: token and position embeddings, then {@code layers} pre-norm transformer
 * layers, each a causal self-attention over the caption, a cross-attention to the image tower's token
 * features and a ReLU MLP, a final layer norm, and logits through the token embedding (tied). Written with
 * plain array operations on {@link Parameter}s, so that the captioning loss can own it
 * ({@link dev.modalign.api.Loss#parameters()}) and plugins/coca/src/test/python/make_reference.py can
 * replay it in torch operation for operation.
 *
 * <p>Layer l's parameters, by name: {@code l.ln1.g/b}, {@code l.self.q/k/v/o} [W, W], {@code l.ln2.g/b},
 * {@code l.cross.q} [W, W], {@code l.cross.k/v} [D, W] (from the image tokens' width D), {@code l.cross.o},
 * {@code l.ln3.g/b}, {@code l.mlp.w1} [W, 4W], {@code l.mlp.b1}, {@code l.mlp.w2} [4W, W], {@code l.mlp.b2};
 * then {@code ln.g/b}. Attention has no biases. Not thread-safe; the training thread only.
 */
final class CaptionDecoder {

    /** Added to the score of a key a query may not see: exp of it is 0 in float32. */
    private static final float BLOCKED = -1e9f;
    private static final double LAYER_NORM_EPSILON = 1e-5;

    private final int vocabularySize;
    private final int maxLength;
    private final int width;
    private final int heads;
    private final int layers;
    private final Parameter tokenEmbedding;
    private final Parameter positionEmbedding;
    private final List<Parameter> parameters = new ArrayList<>();

    CaptionDecoder(int vocabularySize, int maxLength, int imageDim, int width, int layers, int heads, long seed) {
        if (width % heads != 0) {
            throw new IllegalArgumentException("width " + width + " is not a multiple of heads " + heads);
        }
        this.vocabularySize = vocabularySize;
        this.maxLength = maxLength;
        this.width = width;
        this.heads = heads;
        this.layers = layers;
        Random seeds = new Random(seed ^ 0xC0CAL);
        tokenEmbedding = add("token_embedding", Parameter.Type.WEIGHT, new Shape(vocabularySize, width),
                normal(0.02, seeds.nextLong()));
        positionEmbedding = add("position_embedding", Parameter.Type.WEIGHT, new Shape(maxLength, width),
                normal(0.01, seeds.nextLong()));
        for (int l = 0; l < layers; l++) {
            layerNorm(l + ".ln1");
            add(l + ".self.q", Parameter.Type.WEIGHT, new Shape(width, width), xavier(width, width, seeds.nextLong()));
            add(l + ".self.k", Parameter.Type.WEIGHT, new Shape(width, width), xavier(width, width, seeds.nextLong()));
            add(l + ".self.v", Parameter.Type.WEIGHT, new Shape(width, width), xavier(width, width, seeds.nextLong()));
            add(l + ".self.o", Parameter.Type.WEIGHT, new Shape(width, width), xavier(width, width, seeds.nextLong()));
            layerNorm(l + ".ln2");
            add(l + ".cross.q", Parameter.Type.WEIGHT, new Shape(width, width), xavier(width, width, seeds.nextLong()));
            add(l + ".cross.k", Parameter.Type.WEIGHT, new Shape(imageDim, width),
                    xavier(imageDim, width, seeds.nextLong()));
            add(l + ".cross.v", Parameter.Type.WEIGHT, new Shape(imageDim, width),
                    xavier(imageDim, width, seeds.nextLong()));
            add(l + ".cross.o", Parameter.Type.WEIGHT, new Shape(width, width), xavier(width, width, seeds.nextLong()));
            layerNorm(l + ".ln3");
            add(l + ".mlp.w1", Parameter.Type.WEIGHT, new Shape(width, 4L * width),
                    xavier(width, 4 * width, seeds.nextLong()));
            add(l + ".mlp.b1", Parameter.Type.BIAS, new Shape(4L * width), new ConstantInitializer(0));
            add(l + ".mlp.w2", Parameter.Type.WEIGHT, new Shape(4L * width, width),
                    xavier(4 * width, width, seeds.nextLong()));
            add(l + ".mlp.b2", Parameter.Type.BIAS, new Shape(width), new ConstantInitializer(0));
        }
        layerNorm("ln");
    }

    /** Every parameter, in the order the class comment lists them (embeddings first). */
    List<Parameter> parameters() {
        return List.copyOf(parameters);
    }

    int maxLength() {
        return maxLength;
    }

    int vocabularySize() {
        return vocabularySize;
    }

    /**
     * Next-token logits [B, T, V] for captions {@code ids} [B, T] (int) given image tokens {@code memory} [B,
     * N, D] with {@code memoryMask} [B, N] (1 for real tokens, or null): position t sees ids 0..t only.
     */
    NDArray logits(NDArray ids, NDArray memory, NDArray memoryMask) {
        long batch = ids.getShape().get(0);
        long length = ids.getShape().get(1);
        if (length > maxLength) {
            throw new IllegalArgumentException("captions of " + length + " tokens but the decoder has " + maxLength
                    + " positions; raise max_len to the text modality's max_len");
        }
        NDManager manager = ids.getManager();
        NDArray table = tokenEmbedding.getArray();
        NDArray x = table.get(new NDIndex("{}", ids.toType(DataType.INT64, false)))
                .add(positionEmbedding.getArray().get(new NDIndex(":" + length)));
        NDArray causal = causalMask(manager, length).reshape(1, 1, length, length);
        NDArray memoryBlock = memoryMask == null ? null
                : memoryMask.toType(DataType.FLOAT32, false).neg().add(1).mul(BLOCKED)
                        .reshape(batch, 1, 1, memoryMask.getShape().get(1));
        int p = 2; // after the two embeddings
        for (int l = 0; l < layers; l++) {
            NDArray h = layerNorm(x, value(p), value(p + 1));
            x = x.add(attention(h, h, value(p + 2), value(p + 3), value(p + 4), value(p + 5), causal));
            h = layerNorm(x, value(p + 6), value(p + 7));
            x = x.add(attention(h, memory, value(p + 8), value(p + 9), value(p + 10), value(p + 11), memoryBlock));
            h = layerNorm(x, value(p + 12), value(p + 13));
            NDArray hidden = h.matMul(value(p + 14)).add(value(p + 15)).maximum(Scalars.of(h, 0));
            x = x.add(hidden.matMul(value(p + 16)).add(value(p + 17)));
            p += 18;
        }
        NDArray out = layerNorm(x, value(p), value(p + 1));
        return out.matMul(table.transpose());
    }

    /**
     * Greedy captions for images {@code memory} [B, N, D]: from {@code start} (CLS), the most likely next
     * id until {@code end} (PAD, which follows a caption's last word) or {@code maxLength} ids; without the
     * start and end ids. Run outside a gradient collector.
     */
    int[][] greedy(NDArray memory, NDArray memoryMask, int start, int end) {
        int batch = Math.toIntExact(memory.getShape().get(0));
        NDManager manager = memory.getManager();
        List<List<Integer>> captions = new ArrayList<>();
        boolean[] done = new boolean[batch];
        int[][] prefix = new int[batch][1];
        for (int i = 0; i < batch; i++) {
            prefix[i][0] = start;
            captions.add(new ArrayList<>());
        }
        for (int t = 1; t < maxLength; t++) {
            int[] flat = new int[batch * t];
            for (int i = 0; i < batch; i++) {
                System.arraycopy(prefix[i], 0, flat, i * t, t);
            }
            try (NDManager scope = manager.newSubManager()) {
                NDArray ids = scope.create(flat, new Shape(batch, t));
                NDArray logits = logits(ids, memory, memoryMask);
                long[] next = logits.get(new NDIndex(":, -1, :")).argMax(1).toLongArray();
                boolean all = true;
                for (int i = 0; i < batch; i++) {
                    int[] grown = java.util.Arrays.copyOf(prefix[i], t + 1);
                    grown[t] = (int) next[i];
                    prefix[i] = grown;
                    if (!done[i]) {
                        if (next[i] == end) {
                            done[i] = true;
                        } else {
                            captions.get(i).add((int) next[i]);
                        }
                    }
                    all &= done[i];
                }
                if (all) {
                    break;
                }
            }
        }
        int[][] out = new int[batch][];
        for (int i = 0; i < batch; i++) {
            out[i] = captions.get(i).stream().mapToInt(Integer::intValue).toArray();
        }
        return out;
    }

    /** Multi-head scaled dot-product attention ("Attention Is All You Need", eq. 1) of queries x over keys y. */
    private NDArray attention(NDArray x, NDArray y, NDArray wq, NDArray wk, NDArray wv, NDArray wo, NDArray block) {
        long batch = x.getShape().get(0);
        long queries = x.getShape().get(1);
        long keys = y.getShape().get(1);
        long headWidth = width / heads;
        NDArray q = x.matMul(wq).reshape(batch, queries, heads, headWidth).transpose(0, 2, 1, 3);
        NDArray k = y.matMul(wk).reshape(batch, keys, heads, headWidth).transpose(0, 2, 3, 1);
        NDArray v = y.matMul(wv).reshape(batch, keys, heads, headWidth).transpose(0, 2, 1, 3);
        NDArray scores = Scalars.mul(q.matMul(k), 1 / Math.sqrt(headWidth)); // [B, H, Tq, Tk]
        if (block != null) {
            scores = scores.add(block);
        }
        NDArray mixed = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(batch, queries, width);
        return mixed.matMul(wo);
    }

    private static NDArray layerNorm(NDArray x, NDArray gain, NDArray bias) {
        NDArray centred = x.sub(x.mean(new int[] {-1}, true));
        NDArray variance = centred.mul(centred).mean(new int[] {-1}, true);
        return centred.div(variance.add(Scalars.of(variance, LAYER_NORM_EPSILON)).sqrt()).mul(gain).add(bias);
    }

    /** [T, T]: 0 where key s is at or before query t, {@link #BLOCKED} after it. */
    private static NDArray causalMask(NDManager manager, long length) {
        int n = Math.toIntExact(length);
        float[] values = new float[n * n];
        for (int t = 0; t < n; t++) {
            for (int s = t + 1; s < n; s++) {
                values[t * n + s] = BLOCKED;
            }
        }
        return manager.create(values, new Shape(n, n));
    }

    private NDArray value(int index) {
        return parameters.get(index).getArray();
    }

    private void layerNorm(String name) {
        add(name + ".g", Parameter.Type.GAMMA, new Shape(width), new ConstantInitializer(1));
        add(name + ".b", Parameter.Type.BETA, new Shape(width), new ConstantInitializer(0));
    }

    private Parameter add(String name, Parameter.Type type, Shape shape, Initializer initializer) {
        Parameter parameter = Parameter.builder().setName("decoder." + name).setType(type).optShape(shape)
                .optInitializer(initializer).build();
        parameters.add(parameter);
        return parameter;
    }

    /** Glorot uniform ("Understanding the difficulty of training deep feedforward neural networks", 2010). */
    private static Initializer xavier(int in, int out, long seed) {
        return seeded(Math.sqrt(6.0 / (in + out)), false, seed);
    }

    private static Initializer normal(double std, long seed) {
        return seeded(std, true, seed);
    }

    /** Drawn from a generator of its own, so that a run's seed fixes the decoder whatever else it creates. */
    private static Initializer seeded(double scale, boolean gaussian, long seed) {
        return (manager, shape, dataType) -> {
            Random random = new Random(seed);
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (gaussian ? scale * random.nextGaussian() : scale * (2 * random.nextDouble() - 1));
            }
            return manager.create(values, shape).toType(dataType, false);
        };
    }
}
