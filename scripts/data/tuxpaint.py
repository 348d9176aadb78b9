#!/usr/bin/env python3
"""Tux Paint's clip-art stamps with their descriptions in many languages (Debian tuxpaint-stamps-default, GPL-2).

Each stamp under usr/share/tuxpaint/stamps/<category>/... is an image (PNG, or SVG only) with a .txt
description: the first line English, the others translations "<lang>.utf8=<text>". Stamps that have
only an SVG are skipped and counted (the standard library cannot draw SVG), as are PNGs without a
description (the mirrored variants "*_mirror.png").

Writes into --out:
  images/<category>/.../<stamp>.png   the stamp laid over white, scaled to fit 128 x 128 (RGB)
  train.csv, test.csv                 image, caption (English), lang, category, label, id: a seeded 85/15
                                      split by image, stratified by category
  multilingual.csv                    one row per (image, caption in one language), with split; group by id
  multilingual_train.csv, multilingual_test.csv   the same rows, by split
  classes.txt                         category names in label order (for zero-shot classification)
  LICENSE.txt, READY

The image field holds paths relative to the manifest: set path_fields: [image] in the manifest source.
"""

import re
from pathlib import Path

import common

NAME = "tuxpaint"
PACKAGE = "tuxpaint-stamps-default"
VERSION = "2022.06.04-1"
STAMPS = "usr/share/tuxpaint/stamps/"
COPYRIGHT = f"usr/share/doc/{PACKAGE}/copyright"
SIZE = 128
TEST_FRACTION = 0.15
SEED = "tuxpaint-v1"
RECIPE = f"fit_square size={SIZE} background=white rgb v1"
TRANSLATION = re.compile(r"^([A-Za-z]{2,3}(?:_[A-Za-z]{2,4})?(?:@[A-Za-z]+)?)\.utf-?8\s*=(.*)$")
HEADER = ["image", "caption", "lang", "category", "label", "id"]


def keep(name):
    return (name.startswith(STAMPS) and name.endswith((".png", ".txt"))) or name == COPYRIGHT


def convert(job):
    """Lays one stamp over white, fitted to the square; does nothing when the output exists."""
    source, target = job
    if Path(target).is_file():
        return "kept"
    try:
        common.write_png(target, common.fit_square(common.read_png(source), SIZE))
    except ValueError as error:
        return f"unreadable: {error}"
    return "made"


def parse_description(path, problems):
    """The English caption and the {lang: caption} translations of one stamp's .txt file."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        problems.append(f"{path}: empty description")
        return None, {}
    english = lines[0]
    translations = {}
    for number, line in enumerate(lines[1:], 2):
        match = TRANSLATION.match(line)
        if not match:
            problems.append(f"{path}:{number}: not '<lang>.utf8=<text>': {line[:60]!r}")
            continue
        lang, caption = match.group(1), match.group(2).strip()
        if caption:
            translations[lang] = caption
    return english, translations


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    deb, version = common.apt_download(PACKAGE, VERSION, args.cache)
    root = common.unpack_deb(deb, args.cache, keep, "stamps-png-txt", listed="files.txt")
    listed = set((root / "files.txt").read_text(encoding="utf-8").split("\n"))
    stamps = root / STAMPS

    problems = []
    items = []
    svg_only = 0
    no_image = 0
    for description in sorted(stamps.rglob("*.txt")):
        relative = description.relative_to(stamps).with_suffix("")
        if (description.with_suffix(".png")).is_file():
            english, translations = parse_description(description, problems)
            if english is None:
                continue
            items.append((relative.as_posix(), relative.parts[0], english, translations))
        elif STAMPS + relative.as_posix() + ".svg" in listed:
            svg_only += 1
        else:
            no_image += 1
    untitled = sum(1 for png in stamps.rglob("*.png") if not png.with_suffix(".txt").is_file())
    common.log(NAME, f"{len(items)} stamps with a PNG and a description; skipped {svg_only} SVG-only,"
                     f" {no_image} with no image, {untitled} PNGs without a description")

    images = args.out / "images"
    common.ensure_recipe(images, RECIPE)
    jobs = [(str(stamps / (key + ".png")), str(images / (key + ".png"))) for key, _, _, _ in items]
    outcomes = common.convert_all(jobs, convert, NAME)
    unreadable = [outcome for outcome in outcomes if outcome.startswith("unreadable")]
    for outcome in unreadable:
        common.log(NAME, f"skipped: {outcome}")
    bad = {Path(job[0]).relative_to(stamps).with_suffix("").as_posix()
           for job, outcome in zip(jobs, outcomes) if outcome.startswith("unreadable")}
    items = [item for item in items if item[0] not in bad]

    categories = sorted({category for _, category, _, _ in items})
    label = {category: index for index, category in enumerate(categories)}
    test = common.stable_split([key for key, _, _, _ in items], TEST_FRACTION, SEED,
                               {key: category for key, category, _, _ in items})
    rows = {"train": [], "test": []}
    multilingual = {"train": [], "test": []}
    languages = {"en"}
    for key, category, english, translations in items:
        split = "test" if key in test else "train"
        image = f"images/{key}.png"
        rows[split].append([image, english, "en", category, label[category], key])
        multilingual[split].append([image, english, "en", category, label[category], key, split])
        for lang in sorted(translations):
            languages.add(lang)
            multilingual[split].append([image, translations[lang], lang, category, label[category], key, split])

    out = args.out
    common.write_csv(out / "train.csv", HEADER, rows["train"])
    common.write_csv(out / "test.csv", HEADER, rows["test"])
    header = HEADER + ["split"]
    common.write_csv(out / "multilingual.csv", header, multilingual["train"] + multilingual["test"])
    common.write_csv(out / "multilingual_train.csv", header, multilingual["train"])
    common.write_csv(out / "multilingual_test.csv", header, multilingual["test"])
    common.write_lines(out / "classes.txt", categories)
    for problem in problems:
        common.log(NAME, f"skipped line: {problem}")

    copyright_text = (root / COPYRIGHT).read_text(encoding="utf-8")
    common.write_license(out, [(
        f"{PACKAGE} {version} (Debian package), licence GPL-2",
        "The stamp images and descriptions in images/ and the CSV files are taken from the Debian package"
        f" {PACKAGE} {version} (Tux Paint stamps by Bill Kendrick and contributors), laid over white and"
        f" scaled to {SIZE} px. Its debian/copyright file follows.\n\n" + copyright_text)])
    captions = len(multilingual["train"]) + len(multilingual["test"])
    common.write_ready(out, f"{len(items)} images ({len(rows['train'])} train, {len(rows['test'])} test),"
                            f" {len(categories)} categories, {len(languages)} languages, {captions} multilingual"
                            f" captions; skipped {svg_only} SVG-only stamps, {no_image} without image,"
                            f" {untitled} PNGs without description, {len(bad)} unreadable, {len(problems)}"
                            f" malformed lines; {common.megabytes(out):.1f} MB; from {PACKAGE} {version}")
    common.log(NAME, (out / "READY").read_text().strip())


if __name__ == "__main__":
    main()
