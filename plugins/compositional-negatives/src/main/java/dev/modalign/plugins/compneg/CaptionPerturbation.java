package dev.modalign.plugins.compneg;

import dev.modalign.api.InvalidParamException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

/**
 * A way to turn a caption into a hard negative: a caption with the same words (or all but one) whose meaning
 * differs, so that a model that reads a caption as a bag of words cannot tell them apart. These are the
 * perturbations of ARO ("When and why vision-language models behave like bags-of-words, and what to do about
 * it?", Yuksekgonul et al., ICLR 2023, Section 4: swapped attributes and relations, shuffled word order) and of
 * Structure-CLIP (Huang et al., AAAI 2024, Section 3.2: swapped objects and attributes), and CompA's (Ghosh et
 * al., ICLR 2024) swapped order of the sound events' noun phrases.
 *
 * <p>Without a parser, "kind of word" is approximated: words outside a short list of function words are
 * content words; a small lexicon groups attribute words (colours, sizes, numbers), and a caption's last content
 * word stands for its head noun ("a red <b>frog</b>"). A caption is read as the word tokenizer reads it
 * (letters and digits; punctuation separates words and is dropped), and only its first {@code maxWords} words
 * are perturbed, so that a text modality that cuts captions at max_len cannot cut the difference away.
 */
public enum CaptionPerturbation {

    /** Two different content words trade places ("a red ball on a blue box" to "a blue ball on a red box"). */
    SWAP_WORDS("swap-words"),
    /** All words in a random order that differs from the caption's (ARO's order perturbation). */
    SHUFFLE_WORDS("shuffle-words"),
    /** The phrases either side of the first connective trade places ("a frog on a log" to "a log on a frog"). */
    SWAP_PHRASES("swap-phrases"),
    /**
     * One word replaced by another of its kind: an attribute by another of its group (red by blue), else the
     * head noun by another caption's head noun from the same batch (NegCLIP's and CompA's replacement).
     */
    REPLACE_WORD("replace-word");

    /** Words that carry no content of their own: never swapped or replaced. */
    static final Set<String> FUNCTION_WORDS = Set.of("a", "an", "the", "of", "and", "or", "with", "in", "on", "at",
            "to", "for", "from", "by", "is", "are", "was", "were", "be", "it", "its", "this", "that", "these",
            "those", "as", "his", "her", "their", "who", "which", "some", "into", "onto", "under", "over", "near",
            "behind", "s");

    /** Connectives between two phrases, for {@link #SWAP_PHRASES}. */
    static final Set<String> CONNECTIVES = Set.of("and", "with", "of", "on", "in", "at", "under", "over", "near",
            "behind", "beside", "holding", "wearing", "or", "inside", "above", "below");

    /** Attribute groups: a word is replaced only by another word of its group. */
    static final List<List<String>> ATTRIBUTES = List.of(
            List.of("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray",
                    "grey", "golden", "silver"),
            List.of("big", "small", "large", "little", "tiny", "huge", "giant", "tall", "short", "long"),
            List.of("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
            List.of("happy", "sad", "angry", "scared", "surprised"),
            List.of("left", "right", "top", "bottom"));

    private final String yamlName;

    CaptionPerturbation(String yamlName) {
        this.yamlName = yamlName;
    }

    /** The name in YAML and in metric names, e.g. {@code swap-words}. */
    public String yamlName() {
        return yamlName;
    }

    /** The perturbations named in a parameter, in order; an unknown name is an error naming the known ones. */
    static List<CaptionPerturbation> parse(List<String> names, String key) {
        if (names == null || names.isEmpty()) {
            throw new InvalidParamException(key, "name at least one perturbation of " + known());
        }
        List<CaptionPerturbation> kinds = new ArrayList<>();
        for (String name : names) {
            CaptionPerturbation kind = Arrays.stream(values()).filter(k -> k.yamlName.equals(name)).findFirst()
                    .orElseThrow(() -> new InvalidParamException(key, "unknown perturbation '" + name + "'; known: "
                            + known()));
            if (kinds.contains(kind)) {
                throw new InvalidParamException(key, "names '" + name + "' twice");
            }
            kinds.add(kind);
        }
        return List.copyOf(kinds);
    }

    static List<String> known() {
        return Arrays.stream(values()).map(CaptionPerturbation::yamlName).toList();
    }

    /**
     * The caption's words as the word tokenizer reads them: runs of letters and digits, lower-cased.
     */
    static List<String> words(String caption) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        String text = caption.toLowerCase(Locale.ROOT);
        for (int i = 0; i <= text.length(); ) {
            int codePoint = i < text.length() ? text.codePointAt(i) : ' ';
            if (Character.isLetterOrDigit(codePoint)) {
                word.appendCodePoint(codePoint);
            } else if (word.length() > 0) {
                words.add(word.toString());
                word.setLength(0);
            }
            i += i < text.length() ? Character.charCount(codePoint) : 1;
        }
        return words;
    }

    /** A caption's head noun as this class approximates it: its last content word among the first maxWords. */
    static Optional<String> headNoun(List<String> words, int maxWords) {
        for (int i = Math.min(words.size(), maxWords) - 1; i >= 0; i--) {
            if (!FUNCTION_WORDS.contains(words.get(i))) {
                return Optional.of(words.get(i));
            }
        }
        return Optional.empty();
    }

    /**
     * A hard negative of {@code caption}, or nothing when this perturbation does not apply to it (a one-word
     * caption cannot be shuffled) or would give back the same words.
     *
     * @param others the captions it may borrow a word from (the batch's, or the evaluation set's)
     * @param maxWords only the first maxWords words are changed
     */
    public Optional<String> apply(String caption, List<String> others, int maxWords, Random rng) {
        List<String> words = words(caption);
        int n = Math.min(words.size(), maxWords);
        List<String> head = new ArrayList<>(words.subList(0, n));
        List<String> tail = words.subList(n, words.size());
        List<String> changed = switch (this) {
            case SWAP_WORDS -> swapWords(head, rng);
            case SHUFFLE_WORDS -> shuffle(head, rng);
            case SWAP_PHRASES -> swapPhrases(head);
            case REPLACE_WORD -> replaceWord(head, others, maxWords, rng);
        };
        if (changed == null || changed.equals(head)) {
            return Optional.empty();
        }
        List<String> all = new ArrayList<>(changed);
        all.addAll(tail);
        return Optional.of(String.join(" ", all));
    }

    private static List<String> swapWords(List<String> words, Random rng) {
        List<Integer> content = new ArrayList<>();
        for (int i = 0; i < words.size(); i++) {
            if (!FUNCTION_WORDS.contains(words.get(i))) {
                content.add(i);
            }
        }
        List<int[]> pairs = new ArrayList<>();
        for (int a = 0; a < content.size(); a++) {
            for (int b = a + 1; b < content.size(); b++) {
                if (!words.get(content.get(a)).equals(words.get(content.get(b)))) {
                    pairs.add(new int[] {content.get(a), content.get(b)});
                }
            }
        }
        if (pairs.isEmpty()) {
            return null;
        }
        int[] pair = pairs.get(rng.nextInt(pairs.size()));
        List<String> swapped = new ArrayList<>(words);
        Collections.swap(swapped, pair[0], pair[1]);
        return swapped;
    }

    private static List<String> shuffle(List<String> words, Random rng) {
        if (new LinkedHashSet<>(words).size() < 2) {
            return null;
        }
        List<String> shuffled = new ArrayList<>(words);
        // Fisher-Yates until the order differs; with two distinct words each draw differs with probability >= 1/2.
        for (int attempt = 0; attempt < 20 && shuffled.equals(words); attempt++) {
            Collections.shuffle(shuffled, rng);
        }
        return shuffled;
    }

    private static List<String> swapPhrases(List<String> words) {
        for (int i = 1; i < words.size() - 1; i++) {
            if (CONNECTIVES.contains(words.get(i))) {
                List<String> left = words.subList(0, i);
                List<String> right = words.subList(i + 1, words.size());
                List<String> swapped = new ArrayList<>(right);
                swapped.add(words.get(i));
                swapped.addAll(left);
                return swapped;
            }
        }
        return null;
    }

    private static List<String> replaceWord(List<String> words, List<String> others, int maxWords, Random rng) {
        List<Integer> attributes = new ArrayList<>();
        for (int i = 0; i < words.size(); i++) {
            if (group(words.get(i)) != null) {
                attributes.add(i);
            }
        }
        List<String> replaced = new ArrayList<>(words);
        if (!attributes.isEmpty()) {
            int at = attributes.get(rng.nextInt(attributes.size()));
            List<String> choices = new ArrayList<>(group(words.get(at)));
            choices.remove(words.get(at));
            replaced.set(at, choices.get(rng.nextInt(choices.size())));
            return replaced;
        }
        Optional<String> noun = headNoun(words, maxWords);
        if (noun.isEmpty()) {
            return null;
        }
        // Other captions' head nouns, in a fixed order (first seen first) so that a seed gives one result.
        Set<String> nouns = new LinkedHashSet<>();
        for (String other : others) {
            headNoun(words(other), maxWords).filter(o -> !words.contains(o)).ifPresent(nouns::add);
        }
        if (nouns.isEmpty()) {
            return null;
        }
        List<String> choices = new ArrayList<>(nouns);
        replaced.set(words.lastIndexOf(noun.get()), choices.get(rng.nextInt(choices.size())));
        return replaced;
    }

    private static List<String> group(String word) {
        for (List<String> group : ATTRIBUTES) {
            if (group.contains(word)) {
                return group;
            }
        }
        return null;
    }
}
