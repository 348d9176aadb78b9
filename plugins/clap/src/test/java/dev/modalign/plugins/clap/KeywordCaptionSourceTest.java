package dev.modalign.plugins.clap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Keyword-to-caption: captions written from keywords by templates, one template per record, fixed by the seed. */
class KeywordCaptionSourceTest {

    @TempDir
    Path dir;

    @Test
    void aCaptionIsTheRecordsTemplateWithItsKeywordsAndFieldsFilledIn() throws IOException {
        write("audio,labels,lang\na.wav,Speech;Music,en\nb.wav,Dog,fr\nc.wav,Speech; Rain ;Thunder;Speech,en\n");
        KeywordCaptionSource source = source(List.of("the sound of {keywords}, in {lang}"),
                Map.of("lang", Map.of("en", "English", "fr", "French"), "labels", Map.of("Dog", "a dog barking")), 7);
        assertEquals(3, source.size());
        DataRecord first = source.get(0);
        assertEquals("the sound of Speech and Music, in English", first.field("caption"));
        assertEquals(dir.resolve("a.wav"), first.field("audio"), "the manifest's own fields stay, paths resolved");
        assertEquals("the sound of a dog barking, in French", source.get(1).field("caption"));
        // Keywords are trimmed, kept once each, in order, and joined as a phrase.
        assertEquals("the sound of Speech, Rain and Thunder, in English", source.get(2).field("caption"));
        assertEquals(source.id(2), source.get(2).id());
    }

    @Test
    void eachRecordKeepsOneTemplateForItsSeedAndTheTemplatesAreSpreadOverRecords() throws IOException {
        StringBuilder rows = new StringBuilder("audio,labels,lang\n");
        for (int i = 0; i < 300; i++) {
            rows.append(i).append(".wav,Speech,en\n");
        }
        write(rows.toString());
        List<String> templates = List.of("A: {keywords}", "B: {keywords}", "C: {keywords}");
        KeywordCaptionSource source = source(templates, Map.of(), 7);
        Map<Character, Integer> counts = new HashMap<>();
        for (int i = 0; i < 300; i++) {
            String caption = (String) source.get(i).field("caption");
            assertEquals(caption, source.get(i).field("caption"), "record " + i + " read twice");
            counts.merge(caption.charAt(0), 1, Integer::sum);
        }
        for (char template : new char[] {'A', 'B', 'C'}) {
            int count = counts.getOrDefault(template, 0);
            assertTrue(count > 70 && count < 130, "template " + template + " on " + count + " of 300 records");
        }
        KeywordCaptionSource again = source(templates, Map.of(), 7);
        KeywordCaptionSource otherSeed = source(templates, Map.of(), 8);
        int differ = 0;
        for (int i = 0; i < 300; i++) {
            assertEquals(source.get(i).field("caption"), again.get(i).field("caption"));
            differ += source.get(i).field("caption").equals(otherSeed.get(i).field("caption")) ? 0 : 1;
        }
        assertTrue(differ > 100, "another seed should reassign templates, " + differ + " of 300 changed");
        assertNotEquals(source.fingerprint(), otherSeed.fingerprint());
    }

    @Test
    void phrasesJoinOneTwoOrMoreKeywords() {
        assertEquals("rain", KeywordCaptionSource.phrase(List.of("rain")));
        assertEquals("rain and wind", KeywordCaptionSource.phrase(List.of("rain", "wind")));
        assertEquals("rain, wind and thunder", KeywordCaptionSource.phrase(List.of("rain", "wind", "thunder")));
    }

    @Test
    void templatesAndKeywordsNamingMissingFieldsAreRefusedByKey() throws IOException {
        write("audio,labels,lang\na.wav,Speech,en\n");
        InvalidParamException template = assertThrows(InvalidParamException.class,
                () -> source(List.of("{keywords} by {speaker}"), Map.of(), 7));
        assertEquals("templates", template.key());
        assertTrue(template.getMessage().contains("names the field 'speaker'"), template.getMessage());
        InvalidParamException keywords = assertThrows(InvalidParamException.class, () -> new KeywordCaptionSource(
                params(List.of("{keywords}"), List.of("tags"), Map.of()), TestContext.builder().optBaseDir(dir).build()));
        assertEquals("keywords", keywords.key());
        assertEquals("keywords", assertThrows(InvalidParamException.class,
                () -> params(List.of("{keywords}"), List.of(), Map.of())).key());
        assertEquals("templates", assertThrows(InvalidParamException.class,
                () -> params(List.of(), List.of("labels"), Map.of())).key());
    }

    @Test
    void aRecordWithoutKeywordsIsADataErrorNamingItsLine() throws IOException {
        write("audio,labels,lang\na.wav,Speech,en\nb.wav, ; ,en\n");
        KeywordCaptionSource source = source(List.of("{keywords}"), Map.of(), 7);
        DataException error = assertThrows(DataException.class, () -> source.get(1));
        assertTrue(error.getMessage().startsWith("train.csv:3"), error.getMessage());
    }

    private void write(String csv) throws IOException {
        Files.writeString(dir.resolve("train.csv"), csv);
    }

    private KeywordCaptionSource source(List<String> templates, Map<String, Map<String, String>> values, long seed) {
        return new KeywordCaptionSource(params(templates, List.of("labels"), values),
                TestContext.builder().optSeed(seed).optBaseDir(dir).build());
    }

    private static KeywordCaptionSource.Params params(List<String> templates, List<String> keywords,
            Map<String, Map<String, String>> values) {
        return new KeywordCaptionSource.Params("train.csv", "auto", List.of("audio"), null, "fail", templates, keywords,
                ";", values, "caption");
    }
}
