package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.Modality;
import dev.modalign.api.TokenSpec;
import dev.modalign.api.VectorSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Modality} must do: decode the raw values its sources give, refuse garbage with
 * a {@link DataException} naming the origin, collate to what its spec says, and be safe to call
 * from several loader threads.
 *
 * @param <P> the modality's parameter record
 */
public abstract class AbstractModalityContractTest<P extends Record> extends PluginContract {

    protected abstract ComponentFactory<P, Modality<?>> factory();

    protected abstract P params();

    /** A few raw values of the kinds a dataset source gives (paths, bytes, strings). */
    protected abstract List<Object> validRaws();

    /** A raw value that cannot be decoded. */
    protected abstract Object invalidRaw();

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return factory();
    }

    @SuppressWarnings("unchecked")
    private Modality<Object> modality() {
        return (Modality<Object>) factory().create(params(), TestContext.builder().build());
    }

    @Test
    void collatesToWhatItsSpecSays() {
        Modality<Object> modality = modality();
        List<Object> examples = new ArrayList<>();
        for (Object raw : validRaws()) {
            Object example = modality.decode(raw, "test");
            assertTrue(modality.exampleType().isInstance(example), "decode returned " + example.getClass()
                    + " but exampleType() says " + modality.exampleType());
            examples.add(example);
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList batch = modality.collate(examples, manager);
            long batchSize = examples.size();
            assertEquals(batchSize, batch.get(0).getShape().get(0), "first dimension is the batch");
            if (modality.spec() instanceof ImageSpec image) {
                assertEquals(new ai.djl.ndarray.types.Shape(batchSize, image.channels(), image.height(), image.width()),
                        batch.get(0).getShape());
            } else if (modality.spec() instanceof TokenSpec tokens) {
                assertEquals(2, batch.size(), "tokens collate to (ids, mask)");
                assertTrue(batch.get(0).getShape().get(1) <= tokens.maxLength(), "sequence longer than max length");
                assertEquals(batch.get(0).getShape(), batch.get(1).getShape(), "ids and mask shapes");
            } else if (modality.spec() instanceof VectorSpec vector) {
                assertEquals(new ai.djl.ndarray.types.Shape(batchSize, vector.size()), batch.get(0).getShape());
            }
        }
    }

    @Test
    void refusesGarbageNamingTheOrigin() {
        DataException error = assertThrows(DataException.class,
                () -> modality().decode(invalidRaw(), "rows.csv:42 field"));
        assertTrue(error.getMessage().contains("rows.csv:42"),
                "the message should name where the value came from, found: " + error.getMessage());
    }

    @Test
    void decodesConcurrentlyAsSerially() throws Exception {
        Modality<Object> modality = modality();
        List<Object> raws = validRaws();
        List<String> serial = new ArrayList<>();
        for (Object raw : raws) {
            serial.add(fingerprint(modality.decode(raw, "serial")));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int round = 0; round < 5; round++) {
                List<Future<String>> futures = new ArrayList<>();
                for (Object raw : raws) {
                    futures.add(pool.submit(() -> fingerprint(modality.decode(raw, "parallel"))));
                }
                for (int i = 0; i < raws.size(); i++) {
                    assertEquals(serial.get(i), futures.get(i).get(), "decoding on several threads changed example " + i);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static String fingerprint(Object example) {
        if (example instanceof dev.modalign.api.ImageExample image) {
            return java.util.Arrays.hashCode(image.pixels()) + "";
        }
        if (example instanceof dev.modalign.api.TokenExample tokens) {
            return java.util.Arrays.toString(tokens.ids());
        }
        return String.valueOf(example);
    }
}
