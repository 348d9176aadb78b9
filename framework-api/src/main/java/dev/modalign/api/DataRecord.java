package dev.modalign.api;

import java.util.Map;

/**
 * One record of a data set: its named raw fields (a {@link String}, {@code byte[]}, {@link
 * java.nio.file.Path}, {@code float[]} or {@link Number}), as the source read them.
 *
 * @param id a stable identifier (e.g. the row number, the key in a shard)
 * @param group the item this record belongs to: records with the same group are the same item
 *     (several captions of one image); equal to id where each record is its own item
 * @param origin where it was read from, for messages ("train.csv:12")
 * @param fields field name to raw value
 */
public record DataRecord(String id, String group, String origin, Map<String, Object> fields) {

    public DataRecord(String id, String origin, Map<String, Object> fields) {
        this(id, id, origin, fields);
    }

    /** A field's raw value. */
    public Object field(String name) {
        Object value = fields.get(name);
        if (value == null) {
            throw new DataException(origin + ": no field '" + name + "'; fields: " + fields.keySet());
        }
        return value;
    }
}
