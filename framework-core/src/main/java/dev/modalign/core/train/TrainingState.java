package dev.modalign.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.modalign.core.UserError;
import dev.modalign.core.compose.RunPlan.WeightedLoss;
import dev.modalign.core.compose.Tower;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What of a run's model a checkpoint holds, and how it is put back: every tower's parameters (frozen
 * ones and buffers such as running statistics included), every loss's parameters, each loss's own
 * state ({@link dev.modalign.api.Loss#saveState}) and the optimiser's moments and update count.
 *
 * <p>Arrays are written in DJL's encoding (type, shape and data) and restored by copying the values
 * into the arrays the run already has, so that the optimiser's and the step's handles to them stay valid.
 * A parameter that is missing or has another shape means the experiment's model changed since the
 * checkpoint, which is refused by name.
 */
final class TrainingState {

    static final String OPTIMIZER = "optimizer.bin";

    private final List<Tower> towers;
    private final List<WeightedLoss> losses;

    TrainingState(List<Tower> towers, List<WeightedLoss> losses) {
        this.towers = towers;
        this.losses = losses;
    }

    static String towerFile(String tower) {
        return "tower-" + tower + ".params";
    }

    static String lossFile(String loss) {
        return "loss-" + loss + ".params";
    }

    static String lossStateFile(String loss) {
        return "loss-" + loss + ".state";
    }

    void write(Checkpoint.Writer writer, AdamW optimizer) throws IOException {
        for (Tower tower : towers) {
            List<Pair<String, NDArray>> arrays = new ArrayList<>();
            tower.encoder().block().getParameters().forEach(p -> arrays.add(new Pair<>(p.getKey(), p.getValue().getArray())));
            writer.file(towerFile(tower.name()), out -> writeArrays(out, arrays));
        }
        for (WeightedLoss loss : losses) {
            if (!loss.loss().parameters().isEmpty()) {
                writer.file(lossFile(loss.name()), out -> writeArrays(out, lossArrays(loss)));
            }
            ByteArrayOutputStream state = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(state)) {
                loss.loss().saveState(out);
            } catch (IOException | RuntimeException e) {
                throw new IOException("loss '" + loss.name() + "' cannot save its state: " + e, e);
            }
            if (state.size() > 0) {
                writer.file(lossStateFile(loss.name()), out -> state.writeTo(out));
            }
        }
        writer.file(OPTIMIZER, out -> {
            out.writeLong(optimizer.steps());
            List<Pair<String, NDArray>> moments = new ArrayList<>();
            List<NDArray> first = optimizer.firstMoments();
            List<NDArray> second = optimizer.secondMoments();
            List<Parameter> parameters = optimizer.parameters();
            for (int i = 0; i < first.size(); i++) {
                moments.add(new Pair<>("m:" + i + ":" + parameters.get(i).getName(), first.get(i)));
                moments.add(new Pair<>("v:" + i + ":" + parameters.get(i).getName(), second.get(i)));
            }
            writeArrays(out, moments);
        });
    }

    /** Puts the checkpoint's values into the run's arrays, and its state into the losses. */
    void restore(Checkpoint checkpoint, AdamW optimizer, NDManager manager) throws IOException {
        for (Tower tower : towers) {
            Map<String, NDArray> target = new LinkedHashMap<>();
            tower.encoder().block().getParameters().forEach(p -> target.put(p.getKey(), p.getValue().getArray()));
            copyInto(checkpoint, towerFile(tower.name()), target, "tower '" + tower.name() + "'", manager);
        }
        for (WeightedLoss loss : losses) {
            if (!loss.loss().parameters().isEmpty()) {
                Map<String, NDArray> target = new LinkedHashMap<>();
                lossArrays(loss).forEach(p -> target.put(p.getKey(), p.getValue()));
                copyInto(checkpoint, lossFile(loss.name()), target, "loss '" + loss.name() + "'", manager);
            }
            if (checkpoint.has(lossStateFile(loss.name()))) {
                try (DataInputStream in = checkpoint.read(lossStateFile(loss.name()))) {
                    loss.loss().loadState(in);
                } catch (IOException | RuntimeException e) {
                    throw new UserError("loss '" + loss.name() + "' cannot read its state from " + checkpoint.dir() + ": " + e
                            + "; was the loss or its plugin changed since the checkpoint?");
                }
            }
        }
        Map<String, NDArray> moments = new LinkedHashMap<>();
        List<NDArray> first = optimizer.firstMoments();
        List<NDArray> second = optimizer.secondMoments();
        List<Parameter> parameters = optimizer.parameters();
        for (int i = 0; i < first.size(); i++) {
            moments.put("m:" + i + ":" + parameters.get(i).getName(), first.get(i));
            moments.put("v:" + i + ":" + parameters.get(i).getName(), second.get(i));
        }
        try (DataInputStream in = checkpoint.read(OPTIMIZER)) {
            long steps = in.readLong();
            copyInto(in, moments, "the optimiser", checkpoint, manager);
            optimizer.restoreSteps(steps);
        }
    }

    private static List<Pair<String, NDArray>> lossArrays(WeightedLoss loss) {
        List<Pair<String, NDArray>> arrays = new ArrayList<>();
        List<Parameter> parameters = loss.loss().parameters();
        for (int i = 0; i < parameters.size(); i++) {
            arrays.add(new Pair<>(i + ":" + parameters.get(i).getName(), parameters.get(i).getArray()));
        }
        return arrays;
    }

    private static void writeArrays(DataOutputStream out, List<Pair<String, NDArray>> arrays) throws IOException {
        out.writeInt(arrays.size());
        for (Pair<String, NDArray> entry : arrays) {
            out.writeUTF(entry.getKey());
            byte[] encoded = entry.getValue().encode();
            out.writeInt(encoded.length);
            out.write(encoded);
        }
    }

    private static void copyInto(Checkpoint checkpoint, String file, Map<String, NDArray> target, String owner,
            NDManager manager) throws IOException {
        if (!checkpoint.has(file)) {
            throw new UserError("the checkpoint " + checkpoint.dir() + " has no " + file + " for " + owner
                    + "; the experiment's towers or losses differ from the run's");
        }
        try (DataInputStream in = checkpoint.read(file)) {
            copyInto(in, target, owner, checkpoint, manager);
        }
    }

    private static void copyInto(DataInputStream in, Map<String, NDArray> target, String owner, Checkpoint checkpoint,
            NDManager manager) throws IOException {
        int count = in.readInt();
        Map<String, byte[]> saved = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            String name = in.readUTF();
            byte[] encoded = new byte[in.readInt()];
            in.readFully(encoded);
            saved.put(name, encoded);
        }
        if (!saved.keySet().equals(target.keySet())) {
            List<String> missing = target.keySet().stream().filter(k -> !saved.containsKey(k)).toList();
            List<String> extra = saved.keySet().stream().filter(k -> !target.containsKey(k)).toList();
            throw new UserError("the checkpoint " + checkpoint.dir() + " does not fit " + owner + " of this experiment"
                    + (missing.isEmpty() ? "" : "; it lacks " + shortList(missing))
                    + (extra.isEmpty() ? "" : "; it has " + shortList(extra) + " that the model has not")
                    + "; resume with the experiment the run was started with");
        }
        try (NDManager scope = manager.newSubManager()) {
            for (Map.Entry<String, NDArray> entry : target.entrySet()) {
                NDArray value = scope.decode(saved.get(entry.getKey()));
                NDArray array = entry.getValue();
                if (!value.getShape().equals(array.getShape()) || value.getDataType() != array.getDataType()) {
                    throw new UserError("the checkpoint " + checkpoint.dir() + " holds " + owner + " " + entry.getKey()
                            + " as " + value.getDataType() + value.getShape() + ", the model has " + array.getDataType()
                            + array.getShape() + "; resume with the experiment the run was started with");
                }
                array.set(new NDIndex("..."), value);
            }
        }
    }

    private static String shortList(List<String> names) {
        return names.size() <= 3 ? String.join(", ", names) : String.join(", ", names.subList(0, 3)) + " and "
                + (names.size() - 3) + " more";
    }
}
