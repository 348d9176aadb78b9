package dev.modalign.core.compose;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.core.Experiments;
import dev.modalign.core.UserError;
import dev.modalign.core.plugin.PluginLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** data.<split>.split reads one part of any source, chosen by a seeded hash of the records' ids. */
class SplitSourceTest {

    @TempDir
    Path dir;

    /** Records with the given ids, in the given order. */
    private static DatasetSource source(List<String> ids) {
        return new DatasetSource() {
            @Override
            public long size() {
                return ids.size();
            }

            @Override
            public DataRecord get(long index) {
                return new DataRecord(ids.get((int) index), "test:" + index, Map.of("x", index));
            }

            @Override
            public String fingerprint() {
                return "test(" + ids.size() + ")";
            }
        };
    }

    private static Set<String> ids(DatasetSource source) {
        Set<String> ids = new HashSet<>();
        for (long i = 0; i < source.size(); i++) {
            ids.add(source.get(i).id());
        }
        return ids;
    }

    @Test
    void partsAreDisjointCoverEverythingAndIgnoreTheOrder() {
        List<String> forward = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            forward.add("item-" + i);
        }
        List<String> backward = new ArrayList<>(forward);
        java.util.Collections.reverse(backward);
        Set<String> union = new HashSet<>();
        int total = 0;
        for (String part : List.of("train", "validation", "test")) {
            Split split = Split.of(part, List.of(0.8, 0.1, 0.1), 5);
            Set<String> ids = ids(SplitSource.of(source(forward), split));
            assertEquals(ids, ids(SplitSource.of(source(backward), split)), part + " does not depend on the order");
            union.addAll(ids);
            total += ids.size();
        }
        assertEquals(new HashSet<>(forward), union);
        assertEquals(500, total, "the parts are disjoint");
        int train = ids(SplitSource.of(source(forward), Split.of("train", List.of(0.8, 0.1, 0.1), 5))).size();
        assertTrue(Math.abs(train - 400) < 4.5 * Math.sqrt(500 * 0.8 * 0.2), "train holds " + train + " of 500");
    }

    @Test
    void anExperimentSplitsItsDataAndReportsBadKeysWhereTheyAre() {
        RunComposer composer = new RunComposer(PluginLoader.load(List.of()), dir);
        String split = Experiments.TINY.replace("train: {source: pairs, size: 64, seed: 1}",
                "train: {source: pairs, size: 64, seed: 1, split: train, split_fractions: [0.5, 0.25, 0.25]}");
        RunPlan plan = composer.compose(Experiments.write(dir, "split.yaml", split));
        long size = plan.train().source().size();
        assertTrue(size > 16 && size < 48, "about half of 64, found " + size);
        assertTrue(plan.train().source().fingerprint().contains("split=train"), plan.train().source().fingerprint());

        UserError error = assertThrows(UserError.class, () -> composer.compose(Experiments.write(dir, "bad.yaml",
                split.replace("[0.5, 0.25, 0.25]", "[0.5, 0.25, 0.5]"))));
        assertTrue(error.getMessage().contains("bad.yaml:4") && error.getMessage().contains("split_fractions")
                && error.getMessage().contains("must sum to 1"), error.getMessage());
    }
}
