package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.InputSpec;
import dev.modalign.api.Modality;
import dev.modalign.api.VectorSpec;
import dev.modalign.core.compose.Tower;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The loader's packing of fixed-size vectors: the workers write the rows into pooled direct memory that the
 * training thread wraps without a copy. The batches must hold each record's own values, in order, whatever
 * the number of workers, also once memory comes back from the pool and for the last, shorter batch.
 */
class DataLoaderTest {

    private static final int DIM = 5;
    private static final int RECORDS = 70;

    /** Record i: field v holds i * 10 + j at position j. */
    private static final class Rows implements DatasetSource {
        @Override
        public long size() {
            return RECORDS;
        }

        @Override
        public DataRecord get(long index) {
            return new DataRecord("r" + index, "rows#" + index, Map.of("v", row(index)));
        }

        @Override
        public String fingerprint() {
            return "rows";
        }
    }

    private static float[] row(long index) {
        float[] values = new float[DIM];
        for (int j = 0; j < DIM; j++) {
            values[j] = index * 10 + j;
        }
        return values;
    }

    /** float[] as [B, DIM]; its own collate copies, as a modality that is not packed would. */
    private static final class Vectors implements Modality<float[]> {
        private final InputSpec spec;

        Vectors(InputSpec spec) {
            this.spec = spec;
        }

        @Override
        public Class<float[]> exampleType() {
            return float[].class;
        }

        @Override
        public InputSpec spec() {
            return spec;
        }

        @Override
        public float[] decode(Object raw, String origin) {
            return (float[]) raw;
        }

        @Override
        public NDList collate(List<float[]> examples, NDManager manager) {
            float[] flat = new float[examples.size() * DIM];
            for (int i = 0; i < examples.size(); i++) {
                System.arraycopy(examples.get(i), 0, flat, i * DIM, DIM);
            }
            return new NDList(manager.create(flat, new Shape(examples.size(), DIM)));
        }
    }

    /** Each batch's rows of two epochs, checked against the records the batch names. */
    private static List<float[]> load(int workers, InputSpec spec) {
        return load(workers, spec, 0, 1);
    }

    /** Each batch's rows of the epochs in the order given, from one loader. */
    private static List<float[]> load(int workers, InputSpec spec, int... epochs) {
        return load(workers, spec, false, epochs);
    }

    /** As above; {@code readAhead}: the next reads are handed out mid-batch, as the trainer does after backward. */
    private static List<float[]> load(int workers, InputSpec spec, boolean readAhead, int... epochs) {
        List<float[]> batches = new ArrayList<>();
        Tower tower = new Tower("x", "v", new Vectors(spec), List.of(), null, false, null);
        try (NDManager manager = NDManager.newBaseManager();
                DataLoader loader = new DataLoader(new Rows(), List.of(tower), null, 16, 3, true, false, workers, manager)) {
            for (int epoch : epochs) {
                Iterator<DataLoader.Batch> epochBatches = loader.epoch(epoch, 0);
                while (epochBatches.hasNext()) {
                    try (DataLoader.Batch batch = epochBatches.next()) {
                        if (readAhead) {
                            loader.readAhead();
                        }
                        float[] values = batch.inputs().get("x").singletonOrThrow().toFloatArray();
                        assertEquals(new Shape(batch.size(), DIM), batch.inputs().get("x").singletonOrThrow().getShape());
                        for (int i = 0; i < batch.size(); i++) {
                            long index = Long.parseLong(batch.groups().get(i).substring(1));
                            float[] rowValues = java.util.Arrays.copyOfRange(values, i * DIM, (i + 1) * DIM);
                            assertArrayEquals(row(index), rowValues, "row " + i + " of a batch, record " + index);
                        }
                        batches.add(values);
                    }
                }
            }
        }
        return batches;
    }

    @Test
    void packedBatchesHoldTheRecordsInOrderWhateverTheWorkers() {
        List<float[]> onCaller = load(0, new VectorSpec(DIM));
        assertEquals(10, onCaller.size(), "5 batches per epoch, the last of 6 records");
        for (int workers : new int[] {1, 3}) {
            List<float[]> threaded = load(workers, new VectorSpec(DIM));
            assertEquals(onCaller.size(), threaded.size());
            for (int b = 0; b < onCaller.size(); b++) {
                assertArrayEquals(onCaller.get(b), threaded.get(b), "batch " + b + " with " + workers + " workers");
            }
        }
    }

    @Test
    void anEpochOtherThanTheNextIsReadAfreshAfterTheNextWasReadAhead() {
        // The workers start the next epoch's reads while the last batches of one are taken; an epoch asked for out
        // of turn (again, or skipped to) gets its own batches, not those.
        List<float[]> inOrder = load(0, new VectorSpec(DIM), 0, 1, 2);
        List<float[]> outOfTurn = load(2, new VectorSpec(DIM), 0, 0, 2, 1);
        List<List<float[]>> expected = List.of(inOrder.subList(0, 5), inOrder.subList(0, 5), inOrder.subList(10, 15),
                inOrder.subList(5, 10));
        for (int e = 0; e < expected.size(); e++) {
            for (int b = 0; b < 5; b++) {
                assertArrayEquals(expected.get(e).get(b), outOfTurn.get(e * 5 + b), "epoch " + e + " asked, batch " + b);
            }
        }
    }

    @Test
    void readingAheadMidStepKeepsTheBatchesAndTheirOrder() {
        List<float[]> plain = load(0, new VectorSpec(DIM), 0, 1, 2);
        for (int workers : new int[] {1, 3}) {
            List<float[]> ahead = load(workers, new VectorSpec(DIM), true, 0, 1, 2);
            assertEquals(plain.size(), ahead.size());
            for (int b = 0; b < plain.size(); b++) {
                assertArrayEquals(plain.get(b), ahead.get(b), "batch " + b + " with " + workers + " workers");
            }
        }
    }

    @Test
    void packedBatchesEqualTheModalitysOwnCollation() {
        // Another spec than VectorSpec: the loader does not pack, and the modality's collate makes the batch.
        List<float[]> collated = load(2, () -> "custom");
        List<float[]> packed = load(2, new VectorSpec(DIM));
        for (int b = 0; b < packed.size(); b++) {
            assertArrayEquals(collated.get(b), packed.get(b), "batch " + b);
        }
    }
}
