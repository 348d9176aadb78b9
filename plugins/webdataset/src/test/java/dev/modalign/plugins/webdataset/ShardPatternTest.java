package dev.modalign.plugins.webdataset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ShardPatternTest {

    @Test
    void aPlainPathIsItself() {
        assertEquals(List.of("shards/train.tar"), ShardPattern.expand("shards/train.tar"));
    }

    @Test
    void zeroPaddedRangesKeepTheirWidth() {
        assertEquals(List.of("s/train-000008.tar", "s/train-000009.tar", "s/train-000010.tar"),
                ShardPattern.expand("s/train-{000008..000010}.tar"));
        // braceexpand pads to the wider end when either end has a leading zero.
        assertEquals(List.of("09", "10", "11"), ShardPattern.expand("{09..11}"));
        assertEquals(List.of("8", "9", "10", "11"), ShardPattern.expand("{8..11}"));
        assertEquals(List.of("0", "1"), ShardPattern.expand("{0..1}"));
    }

    @Test
    void rangesStepAndRunBackwards() {
        assertEquals(List.of("3", "2", "1"), ShardPattern.expand("{3..1}"));
        assertEquals(List.of("00", "05", "10"), ShardPattern.expand("{00..10..5}"));
        assertEquals(List.of("7"), ShardPattern.expand("{7..7}"));
    }

    @Test
    void listsNestAndSeveralBracesMultiply() {
        assertEquals(List.of("a-1.tar", "a-2.tar", "b-1.tar", "b-2.tar"), ShardPattern.expand("{a,b}-{1..2}.tar"));
        assertEquals(List.of("x.tar", "y1.tar", "y2.tar"), ShardPattern.expand("{x,y{1..2}}.tar"));
        assertEquals(List.of("a.tar", ".tar"), ShardPattern.expand("{a,}.tar"));
    }

    @Test
    void doubleColonJoinsPatterns() {
        assertEquals(List.of("a/0.tar", "a/1.tar", "b/x.tar"), ShardPattern.expand("a/{0..1}.tar::b/x.tar"));
    }

    @Test
    void malformedPatternsSayWhere() {
        IllegalArgumentException open = assertThrows(IllegalArgumentException.class,
                () -> ShardPattern.expand("s/{000..009.tar"));
        assertTrue(open.getMessage().contains("column 3") && open.getMessage().contains("never closed"),
                open.getMessage());
        IllegalArgumentException close = assertThrows(IllegalArgumentException.class, () -> ShardPattern.expand("s/a}.tar"));
        assertTrue(close.getMessage().contains("column 4"), close.getMessage());
        IllegalArgumentException word = assertThrows(IllegalArgumentException.class, () -> ShardPattern.expand("{a..c}"));
        assertTrue(word.getMessage().contains("neither a list"), word.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ShardPattern.expand("{}"));
        assertThrows(IllegalArgumentException.class, () -> ShardPattern.expand("a.tar::"));
        IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
                () -> ShardPattern.expand("{0..9999999}"));
        assertTrue(huge.getMessage().contains("more than"), huge.getMessage());
    }
}
