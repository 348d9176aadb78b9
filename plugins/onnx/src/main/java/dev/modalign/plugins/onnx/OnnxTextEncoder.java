package dev.modalign.plugins.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A pretrained transformer text encoder exported to ONNX (a sentence-transformers model such as
 * all-MiniLM-L6-v2: inputs input_ids, attention_mask and, where the model has it, token_type_ids;
 * output the last hidden state [B, T, H]), run with ONNX Runtime and pooled as the model was
 * trained to be pooled (mean over real tokens for sentence-transformers).
 *
 * <p>It is always frozen: ONNX Runtime computes no gradients, and the block has no parameters. Since
 * its output for a token sequence never changes, each sequence's embedding is computed once and
 * kept ({@code cache_size} sequences), so from the second epoch on a frozen pretrained tower costs
 * next to nothing, as a precomputed ("reinforced") data set would.
 *
 * <p>ONNX Runtime's own engine runs the model rather than DJL's OnnxRuntime engine: the embeddings
 * come back as Java arrays and go into the PyTorch manager of the batch, so no NDArray crosses
 * engines.
 */
public final class OnnxTextEncoder implements Encoder {

    public static final ComponentFactory<Params, Encoder> FACTORY = ComponentFactory.of("onnx-text",
            "A pretrained text transformer from an ONNX file (e.g. all-MiniLM-L6-v2, Reimers & Gurevych, Sentence-BERT,"
                    + " EMNLP 2019), frozen, run with ONNX Runtime; each sequence's embedding is computed once",
            Params.class, OnnxTextEncoder::new);

    /** The parameters of {@code onnx-text}. */
    public record Params(
            @Doc("The .onnx file, relative to the experiment file (scripts/prepare-data minilm writes "
                    + "data/minilm/model.onnx)") String model,
            @Doc("How token states become the embedding: mean over real tokens (sentence-transformers), or first "
                    + "([CLS])") @Default("mean") String pooling,
            @Doc("Sequences whose embedding is kept after it is computed (0: compute every time)") @Default("200000")
                    int cacheSize,
            @Doc("ONNX Runtime threads") @Default("1") int threads,
            @Doc("Keep the computed embeddings on disk too (in the cache directory, per model file and pooling), so "
                    + "later runs reuse them: a precomputed, 'reinforced' data set") @Default("true") boolean diskCache) {

        /** With the embeddings kept on disk. */
        public Params(String model, String pooling, int cacheSize, int threads) {
            this(model, pooling, cacheSize, threads, true);
        }


        public Params {
            if (model == null || model.isBlank()) {
                throw new InvalidParamException("model", "name the .onnx file, e.g. ../data/minilm/model.onnx "
                        + "(scripts/prepare-data minilm writes it)");
            }
            if (!"mean".equals(pooling) && !"first".equals(pooling)) {
                throw new InvalidParamException("pooling", "must be mean or first, found '" + pooling + "'");
            }
            if (cacheSize < 0 || threads < 1) {
                throw new InvalidParamException(cacheSize < 0 ? "cache_size" : "threads", "must be "
                        + (cacheSize < 0 ? ">= 0" : ">= 1") + ", found " + (cacheSize < 0 ? cacheSize : threads));
            }
        }
    }

    private final OrtSession session;
    private final boolean tokenTypes;
    private final int embedDim;
    private final boolean meanPooling;
    private final int cacheSize;
    private final Map<Sequence, float[]> cache = new ConcurrentHashMap<>();
    private final Block block = new Frozen();
    /** Where computed embeddings are appended, or null. */
    private final Path diskCache;

    public OnnxTextEncoder(Params params, ComponentContext context) {
        if (!(context.input() instanceof TokenSpec)) {
            throw new InvalidParamException("type", "onnx-text reads token ids; give its tower a text modality with the "
                    + "model's own tokenizer (tokenizer: hf, tokenizer_file: .../tokenizer.json)");
        }
        Path file = context.baseDir().resolve(params.model()).normalize();
        if (!Files.isRegularFile(file)) {
            throw new InvalidParamException("model", "no file " + file + "; for all-MiniLM-L6-v2 run scripts/prepare-data "
                    + "minilm, which writes data/minilm/model.onnx and data/minilm/tokenizer.json");
        }
        try {
            OrtSession.SessionOptions options = new OrtSession.SessionOptions();
            options.setIntraOpNumThreads(params.threads());
            options.setInterOpNumThreads(1);
            this.session = OrtEnvironment.getEnvironment().createSession(file.toString(), options);
            if (!session.getInputNames().containsAll(java.util.List.of("input_ids", "attention_mask"))) {
                throw new InvalidParamException("model", file + " takes inputs " + session.getInputNames()
                        + "; onnx-text needs a transformer exported with input_ids and attention_mask");
            }
            this.tokenTypes = session.getInputNames().contains("token_type_ids");
            NodeInfo output = session.getOutputInfo().values().iterator().next();
            long[] shape = ((TensorInfo) output.getInfo()).getShape();
            if (shape.length != 3 || shape[2] <= 0) {
                throw new InvalidParamException("model", file + "'s first output has shape " + Arrays.toString(shape)
                        + "; onnx-text needs token states [batch, tokens, hidden]");
            }
            this.embedDim = (int) shape[2];
        } catch (OrtException e) {
            throw new InvalidParamException("model", "ONNX Runtime cannot load " + file + ": " + e.getMessage());
        }
        this.meanPooling = params.pooling().equals("mean");
        this.cacheSize = params.cacheSize();
        this.diskCache = params.diskCache() && cacheSize > 0
                ? context.cacheDir().resolve("onnx-text").resolve(fingerprint(file) + "-" + params.pooling() + ".bin")
                : null;
        if (diskCache != null) {
            EmbeddingFile.read(diskCache, embedDim, cacheSize, (ids, embedding) -> cache.put(new Sequence(ids), embedding));
        }
    }

    /** The first 16 hex digits of the model file's SHA-256: another model never reads these embeddings. */
    private static String fingerprint(Path file) {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            java.security.MessageDigest digest = java.security.MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int read; (read = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, read);
            }
            return java.util.HexFormat.of().formatHex(digest.digest()).substring(0, 16);
        } catch (java.io.IOException | java.security.NoSuchAlgorithmException e) {
            throw new InvalidParamException("model", "cannot read " + file + ": " + e.getMessage());
        }
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return embedDim;
    }

    /** Sequences computed so far and kept; for tests. */
    int cached() {
        return cache.size();
    }

    /** The real tokens of one sequence, the cache's key. */
    private record Sequence(int[] ids) {
        @Override
        public boolean equals(Object other) {
            return other instanceof Sequence sequence && Arrays.equals(ids, sequence.ids);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(ids);
        }
    }

    /** Embeddings [B, D] of token ids [B, T] with mask [B, T]; sequences seen before come from the cache. */
    float[][] embed(int[][] ids) {
        float[][] out = new float[ids.length][];
        java.util.List<Integer> missing = new java.util.ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            out[i] = cacheSize > 0 ? cache.get(new Sequence(ids[i])) : null;
            if (out[i] == null) {
                missing.add(i);
            }
        }
        if (!missing.isEmpty()) {
            int length = missing.stream().mapToInt(i -> ids[i].length).max().orElse(1);
            long[][] inputIds = new long[missing.size()][length];
            long[][] attention = new long[missing.size()][length];
            for (int row = 0; row < missing.size(); row++) {
                int[] sequence = ids[missing.get(row)];
                for (int t = 0; t < sequence.length; t++) {
                    inputIds[row][t] = sequence[t];
                    attention[row][t] = 1;
                }
            }
            float[][] computed = run(inputIds, attention);
            java.util.List<int[]> newIds = new java.util.ArrayList<>();
            java.util.List<float[]> newEmbeddings = new java.util.ArrayList<>();
            for (int row = 0; row < missing.size(); row++) {
                int i = missing.get(row);
                out[i] = computed[row];
                if (cacheSize > 0 && cache.size() < cacheSize && cache.putIfAbsent(new Sequence(ids[i]), computed[row]) == null) {
                    newIds.add(ids[i]);
                    newEmbeddings.add(computed[row]);
                }
            }
            if (diskCache != null && !newIds.isEmpty()) {
                EmbeddingFile.append(diskCache, newIds, newEmbeddings);
            }
        }
        return out;
    }

    private float[][] run(long[][] inputIds, long[][] attention) {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OnnxTensor idsTensor = OnnxTensor.createTensor(environment, inputIds);
                OnnxTensor maskTensor = OnnxTensor.createTensor(environment, attention);
                OnnxTensor typesTensor = OnnxTensor.createTensor(environment, new long[inputIds.length][inputIds[0].length])) {
            Map<String, OnnxTensor> inputs = new java.util.HashMap<>(Map.of("input_ids", idsTensor, "attention_mask",
                    maskTensor));
            if (tokenTypes) {
                inputs.put("token_type_ids", typesTensor);
            }
            try (OrtSession.Result result = session.run(inputs)) {
                float[][][] states = (float[][][]) result.get(0).getValue();
                float[][] pooled = new float[states.length][embedDim];
                for (int row = 0; row < states.length; row++) {
                    if (!meanPooling) {
                        pooled[row] = states[row][0].clone();
                        continue;
                    }
                    int real = 0;
                    for (int t = 0; t < states[row].length; t++) {
                        if (attention[row][t] == 0) {
                            continue;
                        }
                        real++;
                        for (int d = 0; d < embedDim; d++) {
                            pooled[row][d] += states[row][t][d];
                        }
                    }
                    for (int d = 0; d < embedDim; d++) {
                        pooled[row][d] /= Math.max(1, real);
                    }
                }
                return pooled;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on a batch of " + inputIds.length + " sequences: "
                    + e.getMessage(), e);
        }
    }

    /** The block the host sees: no parameters; the forward pass goes to ONNX Runtime. */
    private final class Frozen extends AbstractBlock {

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
                PairList<String, Object> params) {
            NDArray ids = inputs.get(0);
            NDArray mask = inputs.get(1);
            int batch = Math.toIntExact(ids.getShape().get(0));
            int length = Math.toIntExact(ids.getShape().get(1));
            int[] flatIds = ids.toType(DataType.INT32, false).toIntArray();
            float[] flatMask = mask.toType(DataType.FLOAT32, false).toFloatArray();
            int[][] sequences = new int[batch][];
            for (int row = 0; row < batch; row++) {
                int real = 0;
                while (real < length && flatMask[row * length + real] > 0) {
                    real++;
                }
                sequences[row] = Arrays.copyOfRange(flatIds, row * length, row * length + real);
            }
            float[][] embeddings = embed(sequences);
            float[] flat = new float[batch * embedDim];
            for (int row = 0; row < batch; row++) {
                System.arraycopy(embeddings[row], 0, flat, row * embedDim, embedDim);
            }
            NDManager manager = ids.getManager();
            return new NDList(manager.create(flat, new Shape(batch, embedDim)));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(inputShapes[0].get(0), embedDim)};
        }
    }
}
