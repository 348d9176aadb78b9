#!/usr/bin/env python3
"""Emoji images with their names, categories and labels in many languages (npm packages, MIT data).

Sources (npm registry, pinned):
  emoji-datasource-google  names, categories, subcategories (emoji.json) and 64 px Noto Emoji PNGs
                           (images under the Apache License 2.0)
  emoji-datasource-twitter the same emoji drawn by another artist: Twemoji 64 px PNGs (CC BY 4.0); used
                           as the held-out artist (openmoji ships SVG only on npm, which the standard
                           library cannot draw)
  emojibase-data           CLDR labels per emoji in 28 locales (<locale>/data.json), for multilingual captions

Every emoji and every skin-tone variant is one item: caption = its Unicode name lowercased
("grinning face"), skin-tone variants add the tones ("thumbs up sign: medium skin tone").

Writes into --out:
  images/google/<hex>.png, images/twemoji/<hex>.png   laid over white, 64 x 64 RGB
  train.csv, test.csv   image, caption, category, subcategory, label (category index), sublabel
                        (subcategory index), id (code points), base (the emoji a skin-tone variant belongs
                        to): seeded 85/15 split by base emoji, stratified by category
  twemoji.csv           the same rows with the Twemoji image, for every emoji both artists draw;
  twemoji_test.csv      those of the test split (unseen emoji by an unseen artist)
  multilingual.csv      image (Google), caption (emojibase label), lang, category, label, id, split; one row
  multilingual_train.csv, multilingual_test.csv       per (emoji, locale); the same rows by split
  classes.txt, subclasses.txt   category and subcategory names in label order
  LICENSE.txt, READY

The image field holds paths relative to the manifest: set path_fields: [image] in the manifest source.
"""

import json
from pathlib import Path

import common

NAME = "emoji"
GOOGLE = ("emoji-datasource-google", "16.0.0")
TWITTER = ("emoji-datasource-twitter", "16.0.0")
EMOJIBASE = ("emojibase-data", "17.0.0")
TEST_FRACTION = 0.15
SEED = "emoji-v1"
RECIPE = "flatten background=white rgb (64 px as shipped) v1"
TONES = {"1F3FB": "light skin tone", "1F3FC": "medium-light skin tone", "1F3FD": "medium skin tone",
         "1F3FE": "medium-dark skin tone", "1F3FF": "dark skin tone"}
HEADER = ["image", "caption", "category", "subcategory", "label", "sublabel", "id", "base"]


def keep_datasource(name):
    return (name.startswith("package/img/") and "/64/" in name and name.endswith(".png")) \
        or name in ("package/emoji.json", "package/categories.json", "package/LICENSE", "package/README.md")


def keep_emojibase(name):
    return name.endswith("/data.json") or name in ("package/LICENSE", "package/package.json")


def convert(job):
    """Lays one emoji over white (64 px, as shipped); does nothing when the output exists."""
    source, target = job
    if Path(target).is_file():
        return "kept"
    try:
        common.write_png(target, common.flatten(common.read_png(source)))
    except ValueError as error:
        return f"unreadable: {error}"
    return "made"


def normalise(hexcode):
    """Code points without variation selector 16, upper case: how emojibase and emoji-datasource agree."""
    return "-".join(part for part in hexcode.upper().split("-") if part != "FE0F")


def tone_words(key):
    tones = []
    for part in key.split("-"):
        if TONES[part] not in tones:
            tones.append(TONES[part])
    return ", ".join(tones)


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    roots = {}
    for package, version in (GOOGLE, TWITTER):
        tgz = common.npm_pack(f"{package}@{version}", args.cache)
        roots[package] = common.unpack_tgz(tgz, args.cache, keep_datasource, "json-png64") / "package"
    emojibase = common.unpack_tgz(common.npm_pack(f"{EMOJIBASE[0]}@{EMOJIBASE[1]}", args.cache), args.cache,
                                  keep_emojibase, "data") / "package"
    google, twitter = roots[GOOGLE[0]], roots[TWITTER[0]]
    records = json.loads((google / "emoji.json").read_text(encoding="utf-8"))
    categories_tree = json.loads((google / "categories.json").read_text(encoding="utf-8"))
    categories = list(categories_tree)
    subcategories = [sub for category in categories_tree.values() for sub in category]

    items = []
    missing = 0
    unknown_category = 0
    for record in sorted(records, key=lambda r: r["sort_order"]):
        if record["category"] not in categories or record["subcategory"] not in subcategories:
            unknown_category += 1
            continue
        name = record["name"].lower()
        variants = [(record["unified"], record["image"], name, record.get("has_img_google"),
                     record.get("has_img_twitter"))]
        for key, variant in sorted((record.get("skin_variations") or {}).items()):
            variants.append((variant["unified"], variant["image"], f"{name}: {tone_words(key)}",
                             variant.get("has_img_google"), variant.get("has_img_twitter")))
        for unified, image, caption, has_google, has_twitter in variants:
            if not has_google or not (google / "img/google/64" / image).is_file():
                missing += 1
                continue
            items.append({"id": unified, "file": image, "caption": caption, "category": record["category"],
                          "subcategory": record["subcategory"], "base": record["unified"],
                          "twitter": bool(has_twitter) and (twitter / "img/twitter/64" / image).is_file()})
    common.log(NAME, f"{len(items)} emoji images ({missing} without a Google image, {unknown_category} of an"
                     f" unknown category)")

    images = args.out / "images"
    common.ensure_recipe(images, RECIPE)
    jobs = [(str(google / "img/google/64" / item["file"]), str(images / "google" / item["file"])) for item in items]
    jobs += [(str(twitter / "img/twitter/64" / item["file"]), str(images / "twemoji" / item["file"]))
             for item in items if item["twitter"]]
    outcomes = common.convert_all(jobs, convert, NAME)
    unreadable = {Path(job[1]).relative_to(images).as_posix() for job, outcome in zip(jobs, outcomes)
                  if outcome.startswith("unreadable")}
    for job, outcome in zip(jobs, outcomes):
        if outcome.startswith("unreadable"):
            common.log(NAME, f"skipped: {outcome}")
    items = [item for item in items if f"google/{item['file']}" not in unreadable]
    for item in items:
        item["twitter"] = item["twitter"] and f"twemoji/{item['file']}" not in unreadable

    bases = {item["base"]: item["category"] for item in items}
    test = common.stable_split(list(bases), TEST_FRACTION, SEED, bases)
    label = {category: index for index, category in enumerate(categories)}
    sublabel = {sub: index for index, sub in enumerate(subcategories)}

    def row(item, artist):
        return [f"images/{artist}/{item['file']}", item["caption"], item["category"], item["subcategory"],
                label[item["category"]], sublabel[item["subcategory"]], item["id"], item["base"]]

    out = args.out
    train_rows = [row(item, "google") for item in items if item["base"] not in test]
    test_rows = [row(item, "google") for item in items if item["base"] in test]
    common.write_csv(out / "train.csv", HEADER, train_rows)
    common.write_csv(out / "test.csv", HEADER, test_rows)
    twemoji_rows = [row(item, "twemoji") for item in items if item["twitter"]]
    twemoji_test = [row(item, "twemoji") for item in items if item["twitter"] and item["base"] in test]
    common.write_csv(out / "twemoji.csv", HEADER, twemoji_rows)
    common.write_csv(out / "twemoji_test.csv", HEADER, twemoji_test)
    common.write_lines(out / "classes.txt", categories)
    common.write_lines(out / "subclasses.txt", subcategories)

    by_code = {normalise(item["id"]): item for item in items}
    locales = sorted(path.parent.name for path in emojibase.glob("*/data.json"))
    multilingual = {"train": [], "test": []}
    unmatched = 0
    for locale in locales:
        entries = json.loads((emojibase / locale / "data.json").read_text(encoding="utf-8"))
        for entry in entries:
            for labelled in [entry] + list(entry.get("skins") or []):
                item = by_code.get(normalise(labelled["hexcode"]))
                caption = (labelled.get("label") or "").strip()
                if item is None or not caption:
                    unmatched += 1
                    continue
                split = "test" if item["base"] in test else "train"
                multilingual[split].append([f"images/google/{item['file']}", caption, locale, item["category"],
                                            label[item["category"]], item["id"], split])
    for rows in multilingual.values():
        rows.sort(key=lambda r: (r[5], r[2]))
    header = ["image", "caption", "lang", "category", "label", "id", "split"]
    common.write_csv(out / "multilingual.csv", header, multilingual["train"] + multilingual["test"])
    common.write_csv(out / "multilingual_train.csv", header, multilingual["train"])
    common.write_csv(out / "multilingual_test.csv", header, multilingual["test"])

    sections = []
    for (package, version), root, images_licence in (
            (GOOGLE, google, "The images are Google's Noto Emoji, available under the Apache License 2.0"
                             " (https://github.com/googlefonts/noto-emoji/blob/main/LICENSE)."),
            (TWITTER, twitter, "The images are Twemoji by Twitter, Inc and other contributors (jdecked/twemoji"
                               " fork), licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/);"
                               " here laid over white, unchanged in size.")):
        sections.append((f"{package} {version} (npm), data licence MIT, images see below",
                         images_licence + "\n\n" + (root / "LICENSE").read_text(encoding="utf-8")))
    sections.append((f"{EMOJIBASE[0]} {EMOJIBASE[1]} (npm), licence MIT",
                     "The multilingual labels (CLDR annotations) come from emojibase-data.\n\n"
                     + (emojibase / "LICENSE").read_text(encoding="utf-8")))
    common.write_license(out, sections)
    total_multilingual = len(multilingual["train"]) + len(multilingual["test"])
    common.write_ready(out, f"{len(items)} Google emoji images ({len(train_rows)} train, {len(test_rows)} test),"
                            f" {len(categories)} categories, {len(subcategories)} subcategories,"
                            f" {len(twemoji_rows)} Twemoji images ({len(twemoji_test)} test),"
                            f" {total_multilingual} multilingual captions in {len(locales)} locales"
                            f" ({unmatched} emojibase labels without a Google image); skipped {missing} without"
                            f" image, {len(unreadable)} unreadable; {common.megabytes(out):.1f} MB; from"
                            f" {GOOGLE[0]} {GOOGLE[1]}, {TWITTER[0]} {TWITTER[1]}, {EMOJIBASE[0]} {EMOJIBASE[1]}")
    common.log(NAME, (out / "READY").read_text().strip())


if __name__ == "__main__":
    main()
