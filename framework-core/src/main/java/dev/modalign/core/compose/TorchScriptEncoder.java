package dev.modalign.core.compose;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.modalign.api.Encoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

/**
 * A tower whose encoder is a TorchScript module ({@code init_from: torchscript:<file>}), loaded with DJL's
 * PyTorch engine and kept frozen: it takes the NDList its modality collates (e.g. a vector modality's float32
 * [B, F], or a text modality's ids int32 [B, T] and mask float32 [B, T]) as the module's forward arguments, in
 * order, and must return the embeddings [B, D] first, D the embed_dim of the encoder the tower declares (which
 * states the contract; its own weights are not used). A module that does not fit is refused at the first batch,
 * naming the file, the inputs it was given and the output it must return.
 *
 * <p>The module runs in inference mode (dropout off, batch-norm statistics fixed) in training too: a frozen
 * pretrained tower. Its parameters are saved in checkpoints as every tower's are.
 */
public final class TorchScriptEncoder implements Encoder {

    /** How init_from names a TorchScript file: {@code torchscript:<path>}, relative to the experiment file. */
    public static final String PREFIX = "torchscript:";

    private final Path file;
    private final String tower;
    private final int embedDim;
    private final ModuleBlock block = new ModuleBlock();

    /**
     * @param file the TorchScript file (torch.jit.script(...).save or torch.jit.trace(...).save)
     * @param tower the tower's name, for messages
     * @param declared the encoder the tower declares: its embed_dim is what the module must return
     */
    public TorchScriptEncoder(Path file, String tower, Encoder declared) {
        this.file = file;
        this.tower = tower;
        this.embedDim = declared.embedDim();
    }

    public Path file() {
        return file;
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return embedDim;
    }

    /** The module, loaded on the device of the manager that initialises it. */
    private final class ModuleBlock extends AbstractBlock {

        private Model model;
        private Block module;
        private boolean checked;

        @Override
        public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
            if (module == null) {
                load(manager);
            }
            super.initialize(manager, dataType, inputShapes);
        }

        private void load(NDManager manager) {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("towers." + tower + ".init_from: no TorchScript file " + file);
            }
            model = Model.newInstance("torchscript-" + tower, manager.getDevice(), "PyTorch");
            try {
                model.load(file);
            } catch (IOException | MalformedModelException | RuntimeException e) {
                model.close();
                throw new IllegalArgumentException("towers." + tower + ".init_from: " + file + " is not a TorchScript module"
                        + " that PyTorch " + ai.djl.engine.Engine.getEngine("PyTorch").getVersion() + " can load (save it with"
                        + " torch.jit.script(module).save(path)): " + e.getMessage(), e);
            }
            module = addChildBlock("module", model.getBlock());
            module.freezeParameters(true);
        }

        /** The module comes initialised from its file. */
        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {}

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
                PairList<String, Object> params) {
            NDList outputs;
            try {
                outputs = module.forward(parameterStore, inputs, false, params);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(misfit(inputs, "it failed: " + e.getMessage()), e);
            }
            if (!checked) {
                NDArray embedding = outputs.isEmpty() ? null : outputs.head();
                long batch = inputs.head().getShape().get(0);
                if (embedding == null || !embedding.getShape().equals(new Shape(batch, embedDim))) {
                    throw new IllegalArgumentException(misfit(inputs, "it returned " + (embedding == null ? "nothing"
                            : outputs.stream().map(a -> a.getDataType() + a.getShape().toString())
                                    .collect(Collectors.joining(", ")))));
                }
                checked = true;
            }
            return new NDList(outputs.head().toType(DataType.FLOAT32, false));
        }

        private String misfit(NDList inputs, String what) {
            String given = inputs.stream().map(a -> a.getDataType() + a.getShape().toString())
                    .collect(Collectors.joining(", "));
            return "towers." + tower + ".init_from: the TorchScript module " + file + " does not fit the tower: given its"
                    + " modality's batch (" + given + ") as forward arguments it must return the embeddings float32 [B, "
                    + embedDim + "] (B the batch, " + embedDim + " the declared encoder's embed_dim) first, and " + what;
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(inputShapes[0].get(0), embedDim)};
        }
    }
}
