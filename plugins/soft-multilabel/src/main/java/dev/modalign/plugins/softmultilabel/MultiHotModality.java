package dev.modalign.plugins.softmultilabel;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.Doc;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.api.VectorSpec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A record's set of class labels as a multi-hot vector: float32 [B, classes], 1 where the record has
 * the class. Multi-label data (land-cover classes of a satellite scene, tags of an image) keeps the
 * labels in one field; the host's {@code label:} key carries one class index per record only, so a
 * loss that needs the whole set reads it from a tower of this modality (with the {@code identity}
 * encoder, whose embedding is this vector).
 *
 * <p>The raw value is a list of class indices: a string such as {@code "3;7;12"}, {@code "3, 7, 12"}
 * or {@code "[3, 7, 12]"} (separated by commas, semicolons or white space), a JSON array of numbers
 * (which manifests give as float[]), or a single number. Duplicates count once; an empty list is a
 * record without labels. An index that is not an integer in [0, classes) is an error naming the
 * record, never dropped.
 */
public final class MultiHotModality implements Modality<LabelSet> {

    /** @param classes the number of classes */
    public record Params(@Doc("Number of classes: labels are indices in [0, classes), the vector's length") int classes) {

        public Params {
            if (classes < 1) {
                throw new InvalidParamException("classes", "must be at least 1, found " + classes
                        + "; give the number of distinct labels");
            }
        }
    }

    private static final Pattern SEPARATORS = Pattern.compile("[,;\\s]+");

    private final int classes;

    public MultiHotModality(Params params, ComponentContext context) {
        this.classes = params.classes();
    }

    @Override
    public Class<LabelSet> exampleType() {
        return LabelSet.class;
    }

    @Override
    public InputSpec spec() {
        return new VectorSpec(classes);
    }

    @Override
    public LabelSet decode(Object raw, String origin) {
        if (raw instanceof Number number) {
            return new LabelSet(List.of(index(number.doubleValue(), String.valueOf(raw), origin)));
        }
        if (raw instanceof float[] values) {
            List<Integer> indices = new ArrayList<>();
            for (float value : values) {
                indices.add(index(value, Arrays.toString(values), origin));
            }
            return new LabelSet(indices);
        }
        if (raw instanceof String || raw instanceof byte[]) {
            String text = raw instanceof String string ? string : new String((byte[]) raw, StandardCharsets.UTF_8);
            return new LabelSet(parse(text, origin));
        }
        throw new DataException(origin + ": multi-hot reads a list of class indices (\"3;7;12\", [3, 7, 12] or a"
                + " number), found " + (raw == null ? "nothing" : "a " + raw.getClass().getSimpleName())
                + "; point the tower at the field that holds the labels");
    }

    private List<Integer> parse(String text, String origin) {
        String body = text.strip();
        if (body.startsWith("[") && body.endsWith("]")) {
            body = body.substring(1, body.length() - 1).strip();
        }
        List<Integer> indices = new ArrayList<>();
        if (body.isEmpty()) {
            return indices;
        }
        for (String token : SEPARATORS.split(body)) {
            if (token.isEmpty()) {
                continue;
            }
            double value;
            try {
                value = Double.parseDouble(token);
            } catch (NumberFormatException e) {
                throw new DataException(origin + ": multi-hot label '" + token + "' in '" + text + "' is not a class"
                        + " index; write the record's classes as integers in [0, " + classes + "), e.g. \"3;7;12\"");
            }
            indices.add(index(value, text, origin));
        }
        return indices;
    }

    private int index(double value, String text, String origin) {
        if (value != Math.rint(value) || value < 0 || value >= classes) {
            throw new DataException(origin + ": multi-hot label " + (value == Math.rint(value) ? (long) value : value)
                    + " in '" + text + "' is not a class index in [0, " + classes + "); raise classes or fix the"
                    + " record");
        }
        return (int) value;
    }

    @Override
    public NDList collate(List<LabelSet> examples, NDManager manager) {
        float[] multiHot = new float[examples.size() * classes];
        for (int i = 0; i < examples.size(); i++) {
            for (int label : examples.get(i).classes()) {
                multiHot[i * classes + label] = 1f;
            }
        }
        return new NDList(manager.create(multiHot, new Shape(examples.size(), classes)));
    }
}
