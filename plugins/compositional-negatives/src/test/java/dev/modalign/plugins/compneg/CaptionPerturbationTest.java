package dev.modalign.plugins.compneg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CaptionPerturbationTest {

    private static final List<String> BATCH = List.of("A frog.", "A red ball on a blue box.", "A happy snail.",
            "An albino peahen (a female peafowl, or peacock).", "A teapot.");

    @Test
    void wordsAreReadAsTheWordTokenizerReadsThem() {
        assertEquals(List.of("an", "albino", "peahen", "a", "female", "peafowl", "or", "peacock"),
                CaptionPerturbation.words("An albino peahen (a female peafowl, or peacock)."));
    }

    @Test
    void swapWordsTradesTwoContentWordsAndKeepsTheWords() {
        String negative = CaptionPerturbation.SWAP_WORDS.apply("A red ball on a blue box.", BATCH, 15, new Random(1))
                .orElseThrow();
        List<String> words = CaptionPerturbation.words(negative);
        assertNotEquals(CaptionPerturbation.words("A red ball on a blue box."), words);
        assertEquals(sorted(CaptionPerturbation.words("A red ball on a blue box.")), sorted(words),
                "a swap keeps the bag of words");
        assertEquals(List.of("a", "on", "a"), List.of(words.get(0), words.get(3), words.get(4)),
                "function words stay where they were");
    }

    @Test
    void swapPhrasesTradesThePhrasesAroundTheConnective() {
        assertEquals(Optional.of("a blue box on a red ball"),
                CaptionPerturbation.SWAP_PHRASES.apply("A red ball on a blue box.", BATCH, 15, new Random(1)));
        assertEquals(Optional.empty(), CaptionPerturbation.SWAP_PHRASES.apply("A frog.", BATCH, 15, new Random(1)));
    }

    @Test
    void replaceWordReplacesAnAttributeByOneOfItsGroupElseTheHeadNounByAnotherCaptions() {
        for (int seed = 0; seed < 20; seed++) {
            String attribute = CaptionPerturbation.REPLACE_WORD.apply("A happy snail.", BATCH, 15, new Random(seed))
                    .orElseThrow();
            List<String> words = CaptionPerturbation.words(attribute);
            assertEquals("snail", words.get(2));
            assertTrue(List.of("sad", "angry", "scared", "surprised").contains(words.get(1)), attribute);
            String noun = CaptionPerturbation.REPLACE_WORD.apply("A frog.", BATCH, 15, new Random(seed)).orElseThrow();
            assertTrue(List.of("a box", "a snail", "a peacock", "a teapot").contains(noun), noun);
        }
    }

    @Test
    void shuffleNeedsTwoDistinctWordsAndAlwaysChangesTheOrder() {
        assertEquals(Optional.empty(), CaptionPerturbation.SHUFFLE_WORDS.apply("Hibiscus", BATCH, 15, new Random(0)));
        for (int seed = 0; seed < 50; seed++) {
            assertEquals(Optional.of("frog a"),
                    CaptionPerturbation.SHUFFLE_WORDS.apply("A frog.", BATCH, 15, new Random(seed)));
        }
    }

    @Test
    void onlyTheFirstMaxWordsChangeSoATruncatingTokenizerStillSeesTheDifference() {
        String caption = "the letter n and then many more words red ball blue box";
        for (CaptionPerturbation kind : CaptionPerturbation.values()) {
            for (int seed = 0; seed < 20; seed++) {
                Optional<String> negative = kind.apply(caption, BATCH, 3, new Random(seed));
                negative.ifPresent(n -> {
                    List<String> words = CaptionPerturbation.words(n);
                    List<String> original = CaptionPerturbation.words(caption);
                    assertEquals(original.subList(3, original.size()), words.subList(3, words.size()), kind + ": " + n);
                    assertNotEquals(original.subList(0, 3), words.subList(0, 3), kind + ": " + n);
                });
            }
        }
    }

    @Test
    void theSameSeedGivesTheSameNegatives() {
        for (CaptionPerturbation kind : CaptionPerturbation.values()) {
            for (String caption : BATCH) {
                assertEquals(kind.apply(caption, BATCH, 15, new Random(5)), kind.apply(caption, BATCH, 15, new Random(5)));
            }
        }
    }

    @Test
    void unknownNamesAreRefusedWithTheKnownOnes() {
        InvalidParamException e = assertThrows(InvalidParamException.class,
                () -> CaptionPerturbation.parse(List.of("swap-word"), "perturbations"));
        assertTrue(e.getMessage().contains("swap-words"), e.getMessage());
    }

    private static Map<String, Integer> sorted(List<String> words) {
        Map<String, Integer> counts = new HashMap<>();
        words.forEach(w -> counts.merge(w, 1, Integer::sum));
        return counts;
    }
}
