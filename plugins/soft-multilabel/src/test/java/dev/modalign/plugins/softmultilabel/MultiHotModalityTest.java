package dev.modalign.plugins.softmultilabel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.DataException;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.VectorSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Decoding every written form of a label set, refusing what is not one, and collating to multi-hot rows. */
class MultiHotModalityTest {

    private final MultiHotModality modality = new MultiHotModality(new MultiHotModality.Params(5), null);

    @Test
    void decodesSeparatedListsJsonArraysNumbersAndBytes() {
        assertEquals(List.of(0, 3, 4), modality.decode("4;0;3", "o").classes());
        assertEquals(List.of(1, 2), modality.decode(" [2, 1] ", "o").classes());
        assertEquals(List.of(1, 2, 3), modality.decode("3 1\t2", "o").classes());
        assertEquals(List.of(2), modality.decode("2;2", "o").classes(), "a duplicate counts once");
        assertEquals(List.of(), modality.decode("", "o").classes(), "no labels");
        assertEquals(List.of(), modality.decode("[]", "o").classes());
        assertEquals(List.of(3), modality.decode(3, "o").classes(), "one label as a number, as the shapes label field");
        assertEquals(List.of(3), modality.decode(3.0, "o").classes());
        assertEquals(List.of(0, 4), modality.decode(new float[] {4, 0}, "o").classes(), "a JSON array from a manifest");
        assertEquals(List.of(1, 4), modality.decode("1,4".getBytes(StandardCharsets.UTF_8), "o").classes());
    }

    @Test
    void refusesWhatIsNotAClassIndexNamingTheRecordAndTheFix() {
        for (Object raw : List.of("1;x", "5", "-1", "1.5", 7, 2.5, new float[] {1, 9}, Path.of("labels.txt"))) {
            DataException error = assertThrows(DataException.class, () -> modality.decode(raw, "train.csv:12 tags"),
                    "should refuse " + raw);
            assertTrue(error.getMessage().startsWith("train.csv:12 tags: "), error.getMessage());
        }
        String message = assertThrows(DataException.class, () -> modality.decode("1;5", "r")).getMessage();
        assertTrue(message.contains("label 5") && message.contains("[0, 5)") && message.contains("raise classes"), message);
        assertEquals("classes", assertThrows(InvalidParamException.class, () -> new MultiHotModality.Params(0)).key());
    }

    @Test
    void collatesToMultiHotRowsOfItsSpecSize() {
        assertEquals(new VectorSpec(5), modality.spec());
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray batch = modality.collate(List.of(modality.decode("0;4", "o"), modality.decode("", "o"),
                    modality.decode(2, "o")), manager).singletonOrThrow();
            assertEquals(new Shape(3, 5), batch.getShape());
            assertEquals(DataType.FLOAT32, batch.getDataType());
            assertArrayEquals(new float[] {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, batch.toFloatArray());
        }
    }
}
