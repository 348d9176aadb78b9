package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.api.VectorSpec;
import dev.modalign.plugins.timeseries.TimeseriesModality.ArrayLayout;
import dev.modalign.plugins.timeseries.TimeseriesModality.Delimiter;
import dev.modalign.plugins.timeseries.TimeseriesModality.Layout;
import dev.modalign.plugins.timeseries.TimeseriesModality.Normalise;
import dev.modalign.plugins.timeseries.TimeseriesModality.Params;
import dev.modalign.plugins.timeseries.TimeseriesModality.Position;
import dev.modalign.testkit.AbstractModalityContractTest;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TimeseriesModalityTest extends AbstractModalityContractTest<Params> {

    @TempDir
    static Path dir;

    /** src/test/resources/series/two-channels.csv: columns time, a (1..5) and b (10, 10, 10, 10, 20), a blank line. */
    static Path fixture() {
        try {
            return Path.of(TimeseriesModalityTest.class.getResource("/series/two-channels.csv").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Params params(int window, Position position, int stride, Normalise normalise, List<Double> mean,
            List<Double> std, Layout layout, List<String> columns, boolean mask) {
        return new Params(2, window, stride, position, normalise, mean, std, layout, null, Delimiter.AUTO, columns,
                ArrayLayout.TIME_MAJOR, mask);
    }

    static Params params(int window, Normalise normalise) {
        return params(window, Position.START, 1, normalise, null, null, Layout.FLAT, List.of("a", "b"), false);
    }

    static TimeseriesModality modality(Params params) {
        return new TimeseriesModality(params, TestContext.builder().optBaseDir(dir).build());
    }

    static Path write(String name, String text) {
        try {
            return Files.writeString(dir.resolve(name), text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected ComponentFactory<Params, Modality<?>> factory() {
        return TimeseriesPlugin.TIMESERIES;
    }

    @Override
    protected Params params() {
        return params(4, Position.START, 1, Normalise.ZSCORE, null, null, Layout.FLAT, List.of("a", "b"), true);
    }

    @Override
    protected List<Object> validRaws() {
        return List.of(fixture(), fixture().toString(), "[[1, 2], [3, 4.5], [5, -6]]",
                new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
                "time,a,b\n0,1,2\n1,3,4\n".getBytes(StandardCharsets.UTF_8));
    }

    @Override
    protected Object invalidRaw() {
        return "[[1, 2], [3, oops]]";
    }

    @Test
    void readsTheFixtureAsItIs() {
        SeriesExample raw = modality(params(5, Normalise.NONE)).decode(fixture(), "fixture");
        assertEquals(2, raw.channels());
        assertEquals(5, raw.length(), "five rows; the blank line is not a row");
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 10, 10, 10, 10, 20}, raw.values());
    }

    @Test
    void normalisesEachChannelOverTheRecord() {
        // a = 1..5: mean 3, population std sqrt(2); b = 10, 10, 10, 10, 20: mean 12, std 4.
        float r = (float) Math.sqrt(2);
        assertArrayEquals(new float[] {-2 / r, -1 / r, 0, 1 / r, 2 / r, -0.5f, -0.5f, -0.5f, -0.5f, 2},
                modality(params(5, Normalise.ZSCORE)).decode(fixture(), "z").values(), 1e-6f);
        assertArrayEquals(new float[] {0, 0.25f, 0.5f, 0.75f, 1, 0, 0, 0, 0, 1},
                modality(params(5, Normalise.MINMAX)).decode(fixture(), "minmax").values(), 1e-6f);
        // Given: a per channel mean and std, (1 - 1) / 2 ... and (10 - 10) / 5 ...
        Params given = params(5, Position.START, 1, Normalise.GIVEN, List.of(1.0, 10.0), List.of(2.0, 5.0), Layout.FLAT,
                List.of("a", "b"), false);
        assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f, 2, 0, 0, 0, 0, 2},
                modality(given).decode(fixture(), "given").values(), 1e-6f);
        // A constant channel becomes zeros, not NaN.
        Params oneColumn = new Params(1, 4, 1, Position.START, Normalise.ZSCORE, null, null, Layout.FLAT, null,
                Delimiter.AUTO, List.of("b"), ArrayLayout.TIME_MAJOR, false);
        assertArrayEquals(new float[] {0, 0, 0}, modality(oneColumn).decode(new float[] {7, 7, 7}, "constant").values());
    }

    @Test
    void windowsAtTheStartOrCentreAndPadsShortRecordsWithAMask() {
        SeriesExample start = modality(params(3, Normalise.NONE)).decode(fixture(), "start");
        assertEquals(0, start.windowStart());
        assertArrayEquals(new float[] {1, 2, 3, 10, 10, 10}, start.window());
        SeriesExample centre = modality(params(2, Position.CENTRE, 1, Normalise.NONE, null, null, Layout.FLAT,
                List.of("a", "b"), false)).decode(fixture(), "centre");
        assertEquals(1, centre.windowStart(), "(5 - 2) / 2");
        assertArrayEquals(new float[] {2, 3, 10, 10}, centre.window());
        SeriesExample strided = modality(params(2, Position.CENTRE, 2, Normalise.NONE, null, null, Layout.FLAT,
                List.of("a", "b"), false)).decode(fixture(), "centre, stride 2");
        assertEquals(0, strided.windowStart(), "1 rounded down to a multiple of 2");

        TimeseriesModality padded = modality(params(8, Position.START, 1, Normalise.NONE, null, null, Layout.FLAT,
                List.of("a", "b"), true));
        SeriesExample shortOne = padded.decode(fixture(), "short");
        assertEquals(5, shortOne.realLength());
        SeriesExample full = padded.decode(new float[] {1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8, 9, -9},
                "nine steps, time-major");
        assertEquals(new VectorSpec(16), padded.spec());
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList batch = padded.collate(List.of(shortOne, full), manager);
            assertEquals(new Shape(2, 16), batch.get(0).getShape());
            assertEquals(DataType.FLOAT32, batch.get(0).getDataType());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 0, 0, 0, 10, 10, 10, 10, 20, 0, 0, 0,
                1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8}, batch.get(0).toFloatArray(),
                    "channel-major, zero-padded");
            assertEquals(new Shape(2, 8), batch.get(1).getShape());
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, batch.get(1).toFloatArray());
        }
    }

    @Test
    void layoutsGiveTheShapesOfTheirSpecs() {
        for (Layout layout : Layout.values()) {
            TimeseriesModality modality = modality(params(3, Position.START, 1, Normalise.NONE, null, null, layout,
                    List.of("a", "b"), false));
            try (NDManager manager = NDManager.newBaseManager()) {
                NDList batch = modality.collate(List.of(modality.decode(fixture(), "x")), manager);
                assertEquals(1, batch.size(), "no mask unless asked for");
                Shape expected = switch (layout) {
                    case FLAT -> new Shape(1, 6);
                    case IMAGE -> new Shape(1, 1, 2, 3);
                    case CHANNELS_FIRST -> new Shape(1, 2, 3);
                };
                assertEquals(expected, batch.get(0).getShape(), layout.name());
                assertArrayEquals(new float[] {1, 2, 3, 10, 10, 10}, batch.get(0).toFloatArray());
            }
            Object spec = modality.spec();
            assertEquals(switch (layout) {
                case FLAT -> new VectorSpec(6);
                case IMAGE -> new ImageSpec(1, 2, 3);
                case CHANNELS_FIRST -> new SeriesSpec(2, 3);
            }, spec);
        }
    }

    @Test
    void arraysAndJsonGiveTheSameSeries() {
        float[] expected = {1, 2, 3, 10, 20, 30};
        Params timeMajor = params(3, Normalise.NONE);
        Params channelMajor = new Params(2, 3, 1, Position.START, Normalise.NONE, null, null, Layout.FLAT, null,
                Delimiter.AUTO, null, ArrayLayout.CHANNEL_MAJOR, false);
        assertArrayEquals(expected, modality(timeMajor).decode(new float[] {1, 10, 2, 20, 3, 30}, "t").values());
        assertArrayEquals(expected, modality(channelMajor).decode(new float[] {1, 2, 3, 10, 20, 30}, "c").values());
        assertArrayEquals(expected, modality(timeMajor).decode(" [[1, 10], [2, 20], [3e0, 3.0E1]] ", "rows").values());
        assertArrayEquals(expected, modality(timeMajor).decode("[1, 10, 2, 20, 3, 30]", "flat").values());
        assertArrayEquals(expected, modality(channelMajor).decode("[1,2,3,10,20,30]", "flat").values());
        Path tsv = write("series.tsv", "1\t10\n2\t20\n3\t30\n");
        Params noColumns = new Params(2, 3, 1, Position.START, Normalise.NONE, null, null, Layout.FLAT, null,
                Delimiter.AUTO, null, ArrayLayout.TIME_MAJOR, false);
        assertArrayEquals(expected, modality(noColumns).decode("series.tsv", "relative to the experiment").values());
        assertArrayEquals(expected, modality(noColumns).decode(tsv, "tsv").values());
        Path spaced = write("series.txt", "  1   10\n2 20  \n 3 30\n");
        assertArrayEquals(expected, modality(noColumns).decode(spaced, "whitespace").values());
        Path byIndex = write("indexed.csv", "9,1,10\n9,2,20\n9,3,30\n");
        Params indices = new Params(2, 3, 1, Position.START, Normalise.NONE, null, null, Layout.FLAT, null,
                Delimiter.COMMA, List.of("1", "2"), ArrayLayout.TIME_MAJOR, false);
        assertArrayEquals(expected, modality(indices).decode(byIndex, "by index").values());
    }

    @Test
    void malformedRowsAreReportedWithFileLineAndColumn() {
        TimeseriesModality modality = modality(params(4, Normalise.NONE));
        write("short-row.csv", "time,a,b\n0,1,2\n1,3\n");
        assertMessage(modality, "short-row.csv", "short-row.csv:3 has 2 values, but line 1 has 3");
        write("word.csv", "time,a,b\n0,1,2\n\n1,3,four\n");
        assertMessage(modality, "word.csv", "word.csv:4 column 3 ('b'): 'four' is not a finite number",
                "fill missing values");
        write("empty.csv", "time,a,b\n0,1,2\n1,,2\n");
        assertMessage(modality, "empty.csv", "empty.csv:3 column 2 ('a'): empty value");
        write("nan.csv", "time,a,b\n0,NaN,2\n");
        assertMessage(modality, "nan.csv", "nan.csv:2 column 2", "'NaN' is not a finite number");
        write("no-b.csv", "time,a,c\n0,1,2\n");
        assertMessage(modality, "no-b.csv", "no-b.csv:1 has no column 'b'", "[time, a, c]");
        write("header-only.csv", "time,a,b\n");
        assertMessage(modality, "header-only.csv", "holds a header but no rows");
        write("three.csv", "1,2,3\n4,5,6\n");
        Params all = new Params(2, 3, 1, Position.START, Normalise.NONE, null, null, Layout.FLAT, null, Delimiter.AUTO,
                null, ArrayLayout.TIME_MAJOR, false);
        assertMessage(modality(all), "three.csv", "has 3 column(s), but channels is 2", "set channels: 3");
        assertMessage(modality, "[[1, 2], [3]]", "row 1", "has 1 values, but row 0 has 2");
        assertMessage(modality, "[1, 2, 3]", "3 values, not a whole number of time steps of 2 channels");
        assertMessage(modality, "[[1, 2, 3]]", "rows of 3 values, but channels is 2");
        assertMessage(modality, "[]", "the array is empty");
        assertMessage(modality, "missing.csv", "no series file at", "missing.csv");
        assertMessage(modality, new float[] {1, Float.NaN}, "NaN at position 1");
        assertMessage(modality, 3, "found Integer");
        try {
            Files.write(dir.resolve("latin1.csv"), new byte[] {'a', ',', 'b', '\n', (byte) 0xE9, ',', '1', '\n'});
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertMessage(modality, "latin1.csv", "not UTF-8 text");
    }

    private static void assertMessage(TimeseriesModality modality, Object raw, String... parts) {
        DataException error = assertThrows(DataException.class, () -> modality.decode(raw, "train.jsonl:9 field 'series'"));
        assertTrue(error.getMessage().startsWith("train.jsonl:9 field 'series'"), error.getMessage());
        for (String part : parts) {
            assertTrue(error.getMessage().contains(part), "'" + part + "' missing from: " + error.getMessage());
        }
    }

    @Test
    void badParametersNameTheirKey() {
        assertEquals("mean", assertThrows(InvalidParamException.class, () -> params(4, Position.START, 1,
                Normalise.ZSCORE, List.of(0.0), null, Layout.FLAT, null, false)).key());
        assertEquals("std", assertThrows(InvalidParamException.class, () -> params(4, Position.START, 1,
                Normalise.GIVEN, List.of(0.0), null, Layout.FLAT, null, false)).key());
        assertEquals("std", assertThrows(InvalidParamException.class, () -> params(4, Position.START, 1,
                Normalise.GIVEN, List.of(0.0), List.of(1.0, 0.0), Layout.FLAT, null, false)).key());
        assertEquals("channels", assertThrows(InvalidParamException.class, () -> params(4, Position.START, 1,
                Normalise.NONE, null, null, Layout.FLAT, List.of("a"), false)).key());
        assertEquals("window", assertThrows(InvalidParamException.class, () -> params(0, Normalise.NONE)).key());
        assertEquals("stride", assertThrows(InvalidParamException.class, () -> params(4, Position.START, 0,
                Normalise.NONE, null, null, Layout.FLAT, null, false)).key());
    }
}
