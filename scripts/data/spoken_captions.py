#!/usr/bin/env python3
"""Spoken image captions: the captions of the tuxpaint and emoji sets read aloud by espeak-ng (image / text / audio).

Every caption of data/<set>/train.csv and test.csv (set: tuxpaint, emoji; written by their own scripts,
which are run first when their READY stamp is missing) is synthesised in three of eight espeak-ng voices
(accent, voice variant and speaking rate, drawn per caption by a seeded hash), giving an image / text / audio
set for three-tower and pairwise experiments. The splits are the source sets' own, so an image is in the
same split in every modality.

espeak-ng comes from Debian (espeak-ng, libespeak-ng1, espeak-ng-data and libpcaudio0, libsonic0; libpulse0
and its libraries as well when the machine lacks them), unpacked into the download cache and run from there
with LD_LIBRARY_PATH and ESPEAK_DATA_PATH; an espeak-ng already installed on the machine is used instead.

Writes, under --out:
  audio/<xx>/<key>.wav         16-bit PCM mono WAV at espeak-ng's 22050 Hz, trailing silence cut to 50 ms; the
                               key hashes voice, rate and text, so a re-run synthesises only what is new
  <set>/train.csv, test.csv    image, text, audio, voice, id, group, speed_wpm, sample_rate, duration_s,
                               label, category: image paths point into data/<set>/ (../../<set>/...), so keep
                               the data sets side by side; group is the source record (one image and its
                               caption, in three voices, are one item)
  LICENSE.txt, READY

Set path_fields: [image, audio] and group_field: group in the manifest source.
"""
import array
import concurrent.futures
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import common  # noqa: E402

NAME = "spoken-captions"
SETS = ["tuxpaint", "emoji"]
VOICES_PER_CAPTION = 3
WORKERS = 2
SEED = "spoken-captions-v1"
# (espeak-ng voice+variant, words per minute)
VOICES = [
    ("en-us", 165), ("en+f3", 150), ("en-us+m3", 185), ("en-gb-x-rp+f4", 170),
    ("en-gb-scotland+m2", 160), ("en-us+f2", 145), ("en-029+m4", 175), ("en-gb-x-gbclan+f1", 155),
]
ESPEAK_VERSION = "1.51+dfsg-10+deb12u2"
RECIPE = "tail 50 ms"  # with the synthesiser's version, part of every recording's key: change it to remake them all
# the synthesiser and what it links against, Debian bookworm versions
ESPEAK_PACKAGES = [("espeak-ng", ESPEAK_VERSION), ("libespeak-ng1", ESPEAK_VERSION),
                   ("espeak-ng-data", ESPEAK_VERSION), ("libpcaudio0", "1.2-2"), ("libsonic0", "0.2.0-12")]
# libpcaudio0 links PulseAudio (never used when writing files), which links these; fetched only when missing
AUDIO_PACKAGES = [("libpulse0", "16.1+dfsg1-2+b1"), ("libsndfile1", "1.2.0-1+deb12u1"), ("libasyncns0", "0.8-6+b3"),
                  ("libflac12", "1.4.2+ds-2"), ("libogg0", "1.3.5-3"), ("libvorbis0a", "1.3.7-1"),
                  ("libvorbisenc2", "1.3.7-1"), ("libopus0", "1.3.1-3"), ("libmpg123-0", "1.31.2-1+deb12u1"),
                  ("libmp3lame0", "3.100-6")]
SILENCE = 64  # sample magnitude (of 32767) below which the end of a recording counts as silent
TAIL_SECONDS = 0.05
FIELDS = ["image", "text", "audio", "voice", "id", "group", "speed_wpm", "sample_rate", "duration_s", "label",
          "category"]


def log(message):
    common.log(NAME, message)


# ---------------------------------------------------------------- espeak-ng

def unpack_full(deb, folder):
    """dpkg-deb -x of one .deb into folder (binaries keep their modes and libraries their symlinks)."""
    stamp = folder / ".unpacked" / deb.name
    if stamp.is_file():
        return
    if shutil.which("dpkg-deb") is None:
        sys.exit(f"{NAME}: cannot unpack {deb.name}: dpkg-deb is not installed (install espeak-ng instead)")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(folder)], check=True)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text("ok\n")


def missing_libraries(binary, env):
    if shutil.which("ldd") is None:
        return []
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, env=env)
    return [line.split()[0] for line in result.stdout.splitlines() if "not found" in line]


def find_espeak(cache):
    """(command, environment, version, description, packages used) of a working espeak-ng."""
    installed = shutil.which("espeak-ng")
    if installed:
        version = subprocess.run([installed, "--version"], capture_output=True, text=True).stdout.strip()
        return [installed], dict(os.environ), version, f"the installed {installed} ({version})", []
    folder = Path(cache) / "espeak-ng" / ESPEAK_VERSION
    for package, version in ESPEAK_PACKAGES:
        deb, _ = common.apt_download(package, version, cache)
        unpack_full(deb, folder)
    libraries = folder / "usr/lib/x86_64-linux-gnu"
    multiarch = [p for p in (folder / "usr/lib").iterdir() if p.is_dir() and (p / "espeak-ng-data").is_dir()]
    if multiarch:
        libraries = multiarch[0]
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join([str(libraries), str(libraries / "pulseaudio")]
                                             + ([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
    env["ESPEAK_DATA_PATH"] = str(libraries)
    binary = folder / "usr/bin/espeak-ng"
    missing = missing_libraries(binary, env)
    if missing:
        log(f"the unpacked espeak-ng lacks {', '.join(missing)}; fetching PulseAudio's libraries")
        for package, version in AUDIO_PACKAGES:
            deb, _ = common.apt_download(package, version, cache)
            unpack_full(deb, folder)
        missing = missing_libraries(binary, env)
        if missing:
            sys.exit(f"{NAME}: espeak-ng from {folder} still lacks the libraries {missing}; install espeak-ng "
                     f"(apt-get install espeak-ng) and run again")
    probe = subprocess.run([str(binary), "--version"], capture_output=True, text=True, env=env)
    if probe.returncode != 0:
        sys.exit(f"{NAME}: {binary} does not run: {probe.stderr.strip()}")
    used = sorted(stamp.name.split("_")[0] + " " + stamp.name.split("_")[1].replace("%3a", ":")
                  for stamp in (folder / ".unpacked").iterdir())
    return ([str(binary)], env, ESPEAK_VERSION, f"espeak-ng {ESPEAK_VERSION} from Debian, unpacked into the download"
            " cache", used)


def check_voices(command, env, scratch):
    """Fails when a voice or variant is unknown: espeak-ng then falls back to a default without a word (in
    1.51, "en-gb+f3" is plain en-gb: the variant is dropped), so every voice must sound different from the
    others, from the default voice, and from its own base voice without the variant."""
    scratch.mkdir(parents=True, exist_ok=True)
    names = [v for v, _ in VOICES]
    probes = ["en"] + names + [v.split("+")[0] for v in names if "+" in v]
    sound = {}
    for voice in dict.fromkeys(probes):
        target = scratch / f"{voice}.wav"
        subprocess.run(command + ["-v", voice, "-w", str(target)], input="voice check", env=env, check=True,
                       capture_output=True, text=True)
        sound[voice] = target.read_bytes()
    shutil.rmtree(scratch, ignore_errors=True)
    clashes = [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if sound[a] == sound[b]]
    clashes += [(v, "en") for v in names if v != "en" and sound[v] == sound["en"]]
    clashes += [(v, v.split("+")[0]) for v in names if "+" in v and sound[v] == sound[v.split("+")[0]]]
    if clashes:
        sys.exit(f"{NAME}: these espeak-ng voices sound the same: {clashes}; a voice or variant name is not "
                 f"known to this espeak-ng (see `espeak-ng --voices=en` and `--voices=variant`): fix VOICES")


def synthesise(job):
    """Writes one WAV (atomically) unless it exists; returns (path, sample rate, frames, made)."""
    command, env, voice, wpm, text, target = job
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + f".{os.getpid()}.partial")
        result = subprocess.run(command + ["-v", voice, "-s", str(wpm), "-w", str(partial)], input=text,
                                capture_output=True, text=True, env=env)
        if result.returncode != 0 or not partial.is_file():
            raise RuntimeError(f"espeak-ng -v {voice} failed on {text!r}: {result.stderr.strip()}")
        trim_tail(partial)
        partial.replace(target)
        made = True
    else:
        made = False
    with wave.open(str(target), "rb") as reader:
        if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
            raise RuntimeError(f"{target}: espeak-ng wrote {reader.getnchannels()} channels of "
                               f"{8 * reader.getsampwidth()} bits, expected 16-bit mono")
        return target, reader.getframerate(), reader.getnframes(), made


def trim_tail(path):
    """Cuts espeak-ng's trailing silence (about 0.3 s) down to TAIL_SECONDS."""
    with wave.open(str(path), "rb") as reader:
        params = reader.getparams()
        samples = array.array("h")
        samples.frombytes(reader.readframes(reader.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    end = len(samples)
    while end > 0 and abs(samples[end - 1]) <= SILENCE:
        end -= 1
    end = min(len(samples), end + int(TAIL_SECONDS * params.framerate))
    if end < len(samples):
        del samples[end:]
        if sys.byteorder == "big":
            samples.byteswap()
        with wave.open(str(path), "wb") as writer:
            writer.setparams(params)
            writer.writeframes(samples.tobytes())


def voices_for(key):
    ranked = sorted(VOICES, key=lambda v: hashlib.sha256(f"{SEED}:{key}:{v[0]}".encode()).hexdigest())
    return ranked[:VOICES_PER_CAPTION]


def speakable(caption):
    # espeak-ng reads "[[...]]" as phonemes; nothing else in plain text is special
    return re.sub(r"\s+", " ", caption.replace("[[", "[").replace("]]", "]")).strip()


# ---------------------------------------------------------------- main

def source_rows(data_root, name):
    """The rows of data/<name>/{train,test}.csv, preparing that set first when it is not ready."""
    folder = data_root / name
    if not (folder / "READY").is_file():
        script = Path(__file__).resolve().parents[2] / "scripts" / "prepare-data"
        log(f"data/{name} is not ready: running {script.name} {name} first")
        result = subprocess.run([str(script), name])
        if result.returncode != 0 or not (folder / "READY").is_file():
            sys.exit(f"{NAME}: the captions come from data/{name}, which could not be prepared "
                     f"(scripts/prepare-data {name} exited {result.returncode}); prepare it, then run again")
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.csv"
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            missing = [field for field in ("image", "caption", "id") if field not in (reader.fieldnames or [])]
            if missing:
                sys.exit(f"{NAME}: {path} lacks the fields {missing} (has {reader.fieldnames})")
            rows = []
            for line, row in enumerate(reader, 2):
                if not row["caption"].strip() or not row["image"].strip():
                    sys.exit(f"{NAME}: {path}:{line}: empty caption or image (id {row.get('id')!r})")
                rows.append(row)
            splits[split] = rows
    return splits


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    started = time.time()
    out = args.out
    (out / "READY").unlink(missing_ok=True)
    sources = {name: source_rows(args.data_root, name) for name in SETS}
    command, env, version, description, packages = find_espeak(args.cache)
    recording = f"espeak-ng {version}, {RECIPE}"
    check_voices(command, env, out / ".voice-check")
    log(f"synthesising with {description}, {WORKERS} processes")

    jobs, plan = {}, {}
    for name, splits in sources.items():
        for split, rows in splits.items():
            entries = []
            for row in rows:
                text = speakable(row["caption"])
                for voice, wpm in voices_for(f"{name}:{row['id']}"):
                    key = hashlib.sha256(f"{recording}|{voice}|{wpm}|{text}".encode("utf-8")).hexdigest()[:24]
                    target = out / "audio" / key[:2] / f"{key}.wav"
                    jobs.setdefault(target, (command, env, voice, wpm, text, target))
                    entries.append((row, voice, wpm, target))
            plan[(name, split)] = entries
    log(f"{sum(len(e) for e in plan.values())} spoken captions, {len(jobs)} distinct recordings")

    results, made = {}, 0
    every = max(1, len(jobs) // 10)
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for done, (target, rate, frames, fresh) in enumerate(pool.map(synthesise, jobs.values()), 1):
            results[target] = (rate, frames)
            made += fresh
            if done % every == 0 or done == len(jobs):
                log(f"{done}/{len(jobs)} recordings ({made} synthesised, {time.time() - started:.0f} s)")

    seconds = 0.0
    counts = {}
    for (name, split), entries in plan.items():
        manifest_dir = out / name
        source_dir = args.data_root / name
        rows = []
        for row, voice, wpm, target in entries:
            rate, frames = results[target]
            seconds += frames / rate
            rows.append({
                "image": os.path.relpath(source_dir / row["image"], manifest_dir).replace(os.sep, "/"),
                "text": row["caption"], "audio": os.path.relpath(target, manifest_dir).replace(os.sep, "/"),
                "voice": voice, "id": f"{row['id']}/{voice}", "group": row.get("group") or row["id"],
                "speed_wpm": wpm, "sample_rate": rate, "duration_s": f"{frames / rate:.3f}",
                "label": row.get("label", ""), "category": row.get("category", ""),
            })
        common.write_csv(manifest_dir / f"{split}.csv", FIELDS, rows)
        counts[(name, split)] = len(rows)

    stale = [path for path in (out / "audio").rglob("*") if path.is_file() and path not in results]
    for path in stale:
        path.unlink()
    if stale:
        log(f"removed {len(stale)} recordings no caption uses any more")

    sections = [(f"espeak-ng {ESPEAK_VERSION}, Debian, GPL-3.0-or-later (the synthesiser)",
                 f"The audio was synthesised with {description}.\nDebian packages: "
                 + (", ".join(packages) or "(the machine's own espeak-ng)")
                 + ".\nThe GPL covers the program; the GNU GPL FAQ holds that what a program outputs is not"
                 " covered by the program's licence. The captions and images are those of the source sets,"
                 " under their licences below.")]
    for name in SETS:
        licence = args.data_root / name / "LICENSE.txt"
        sections.append((f"Captions and images: data/{name} (its LICENSE.txt follows)",
                         licence.read_text(encoding="utf-8") if licence.is_file() else "(missing)"))
    common.write_license(out, sections)
    hours = seconds / 3600
    summary = ", ".join(f"{name} {counts[(name, 'train')]} train + {counts[(name, 'test')]} test"
                        for name in SETS)
    summary = (f"{summary} spoken captions ({VOICES_PER_CAPTION} of {len(VOICES)} voices each), {len(results)} "
               f"recordings, {hours:.2f} h, {common.megabytes(out / 'audio'):.1f} MB")
    common.write_ready(out, summary)
    log(f"{summary}; {made} synthesised now; {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
