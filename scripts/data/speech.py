#!/usr/bin/env python3
"""Spoken prompts with transcripts, from Debian's Asterisk core sounds (an audio / text set).

The asterisk-core-sounds-<lang>-wav packages ship about 560 telephone prompts per language as 8 kHz 16-bit
mono WAV files, recorded by one professional speaker each; the asterisk-core-sounds-<lang> packages ship
the transcript file core-sounds-<lang>.txt ("name: transcript" lines). The same prompt names exist in
English, French, Spanish, Italian and Russian, so one prompt spoken in several languages is one item: its
name is the group of the manifest rows.

Writes, under --out:
  wav/<lang>/<name>.wav   16-bit PCM mono WAV at the recording's rate (8000 Hz; the sample_rate column)
  train.csv, test.csv     audio, text, lang, id, group, sample_rate, duration_s, speaker, text_en
  LICENSE.txt, READY

Prompts without speech (silence/*, tones: transcripts wholly in brackets) and prompts without a transcript
are left out and counted. The split is by prompt name (20% of the names, drawn by a seeded hash), so no
prompt is in the test file in one language and in the train file in another.

The audio field holds paths relative to the manifest: set path_fields: [audio] in the manifest source, and
group_field: group to count the languages of one prompt as one item.

Standard library only (and common.py here); needs apt-get (Debian or Ubuntu) for the first download.
"""
import array
import gzip
import re
import sys
import time
import wave

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import common  # noqa: E402

NAME = "speech"
VERSION = "1.6.1-1"
SPLIT_SEED = "speech-v1"
TEST_FRACTION = 0.2
# language -> (wav package, transcript package, licence of the recordings per debian/copyright)
LANGUAGES = {
    "en": ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-en", "CC-BY-SA-3.0"),
    "fr": ("asterisk-core-sounds-fr-wav", "asterisk-core-sounds-fr", "CC-BY-SA-3.0"),
    "es": ("asterisk-core-sounds-es-wav", "asterisk-core-sounds-es", "CC-BY-SA-3.0"),
    "it": ("asterisk-core-sounds-it-wav", "asterisk-core-sounds-it", "CC-BY-3.0"),
    "ru": ("asterisk-core-sounds-ru-wav", "asterisk-core-sounds-ru", "CC-BY-3.0"),
}
FIELDS = ["audio", "text", "lang", "id", "group", "sample_rate", "duration_s", "speaker", "text_en"]
SOUNDS = "usr/share/asterisk/sounds/"
DOCS = "usr/share/doc/"


def keep(name):
    return (name.startswith(SOUNDS) and name.endswith(".wav")) or (
        name.startswith(DOCS) and (name.endswith("/copyright") or "/core-sounds-" in name))


# ---------------------------------------------------------------- transcripts

def read_transcripts(path):
    """name -> raw transcript, from a core-sounds-<lang>.txt(.gz) file (';' comments, 'name: text' lines)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig") as lines:
        result = {}
        for line in lines:
            line = line.strip()
            if not line or line.startswith(";"):
                continue
            match = re.match(r"^([A-Za-z0-9_./-]+):(.*)$", line)
            if match:
                result[match.group(1)] = match.group(2).strip()
        return result


def clean_transcript(raw):
    """The spoken words of a transcript, or None for a prompt without speech.

    The files mark what is not spoken: '(notes)', '<beep ...>', '[tones]' and '[@]' (a symbol after its
    name). A bracket holding words ('[temporales]', Spanish and Italian files) marks an optional word that
    is spoken, so those brackets are unwrapped; stray quotes are dropped.
    """
    text = re.sub(r"\([^)]*\)", " ", raw)
    text = re.sub(r"<[^>]*>", " ", text)
    if re.fullmatch(r"\s*\[[^\]]*\]\s*", text):
        return None
    text = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1) if re.search(r"\w", m.group(1)) else " ", text)
    text = text.replace('"', " ").replace("\u201c", " ").replace("\u201d", " ")
    text = re.sub(r"\s+", " ", text).strip()
    return text if re.search(r"\w", text) else None


# ---------------------------------------------------------------- audio

def convert_wav(source, target):
    """Writes source as 16-bit PCM mono WAV (a plain 44-byte header) unless target is already up to date.

    Returns (sample rate, frames, whether the samples had to be converted).
    """
    with wave.open(str(source), "rb") as reader:
        channels, width, rate, frames = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate(),
                                         reader.getnframes())
        expected = 44 + frames * 2
        if (target.exists() and target.stat().st_size == expected
                and target.stat().st_mtime >= source.stat().st_mtime):
            return rate, frames, False
        data = reader.readframes(frames)
    converted = width != 2 or channels != 1
    if width == 1:
        samples = array.array("h", ((b - 128) << 8 for b in data))
    elif width == 2:
        samples = array.array("h")
        samples.frombytes(data)
        if sys.byteorder == "big":
            samples.byteswap()
    elif width in (3, 4):
        samples = array.array("h", (int.from_bytes(data[i + width - 2:i + width], "little", signed=True)
                                    for i in range(0, len(data), width)))
    else:
        raise ValueError(f"{source}: unsupported sample width {width} bytes")
    if channels > 1:
        samples = array.array("h", (sum(samples[i:i + channels]) // channels
                                    for i in range(0, len(samples), channels)))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with wave.open(str(partial), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        if sys.byteorder == "big":
            samples.byteswap()
        writer.writeframes(samples.tobytes())
    partial.replace(target)
    return rate, len(samples), converted


# ---------------------------------------------------------------- main

def main():
    args = common.parse_args(__doc__.splitlines()[0])
    start = time.time()
    out = args.out
    (out / "READY").unlink(missing_ok=True)
    packages = []
    per_lang = {}
    copyright_text = ""
    for lang, (wav_package, text_package, licence) in LANGUAGES.items():
        roots = []
        for package in (wav_package, text_package):
            deb, version = common.apt_download(package, VERSION, args.cache)
            packages.append((package, version, licence))
            roots.append(common.unpack_deb(deb, args.cache, keep, "sounds"))
        wav_root, text_root = roots
        sound_dirs = [d for d in (wav_root / SOUNDS).iterdir() if d.is_dir()]
        if len(sound_dirs) != 1:
            sys.exit(f"{NAME}: expected one voice folder in {wav_package}, found {[d.name for d in sound_dirs]}")
        transcript_files = sorted((text_root / DOCS).glob(f"*/core-sounds-{lang}.txt*"))
        if not transcript_files:
            sys.exit(f"{NAME}: {text_package} holds no core-sounds-{lang}.txt transcript file; look for it with "
                     f"`dpkg-deb -c` in the package and adapt this script")
        per_lang[lang] = (sound_dirs[0], read_transcripts(transcript_files[0]))
        copyright_file = text_root / DOCS / text_package / "copyright"
        if not copyright_text and copyright_file.is_file():
            copyright_text = copyright_file.read_text(encoding="utf-8")

    english = {name: clean_transcript(raw) or "" for name, raw in per_lang["en"][1].items()}
    records = []
    counts = {}
    converted_total = 0
    hours = 0.0
    for lang, (sound_dir, transcripts) in per_lang.items():
        wavs = {p.relative_to(sound_dir).as_posix()[:-len(".wav")]: p for p in sound_dir.rglob("*.wav")}
        skipped_silence = skipped_no_speech = skipped_no_text = 0
        kept = 0
        for name in sorted(wavs):
            if name.startswith("silence/"):
                skipped_silence += 1
                continue
            raw = transcripts.get(name)
            if raw is None or not raw.strip():
                skipped_no_text += 1
                continue
            text = clean_transcript(raw)
            if text is None:
                skipped_no_speech += 1
                continue
            target = out / "wav" / lang / f"{name}.wav"
            rate, frames, converted = convert_wav(wavs[name], target)
            converted_total += converted
            hours += frames / rate / 3600
            records.append({
                "audio": target.relative_to(out).as_posix(), "text": text, "lang": lang, "id": f"{lang}/{name}",
                "group": name, "sample_rate": rate, "duration_s": f"{frames / rate:.3f}",
                "speaker": sound_dir.name, "text_en": english.get(name, ""),
            })
            kept += 1
        no_wav = sum(1 for name, raw in transcripts.items() if raw.strip() and name not in wavs)
        counts[lang] = kept
        common.log(NAME, f"{lang}: {kept} prompts ({sound_dir.name}); left out {skipped_silence} silence, "
                         f"{skipped_no_speech} without speech (tones), {skipped_no_text} without a transcript; "
                         f"{no_wav} transcripts have no recording")
    groups = sorted({record["group"] for record in records})
    test_groups = common.stable_split(groups, TEST_FRACTION, SPLIT_SEED)
    rows = {"train": [r for r in records if r["group"] not in test_groups],
            "test": [r for r in records if r["group"] in test_groups]}
    for split, split_rows in rows.items():
        common.write_csv(out / f"{split}.csv", FIELDS, split_rows)

    common.write_license(out, [
        (f"Asterisk core sounds {VERSION}, Debian, CC-BY-SA-3.0 (en, fr, es) and CC-BY-3.0 (it, ru)",
         "\n".join([
             "Debian packages: " + ", ".join(sorted({f"{p} {v}" for p, v, _ in packages})) + ".",
             "Speech prompts of the Asterisk PBX (https://www.asterisk.org/), as packaged by Debian (bookworm).",
             "Licences per language (debian/copyright): " + ", ".join(
                 f"{lang} {LANGUAGES[lang][2]}" for lang in LANGUAGES) + ".",
             "Recordings: en and es by Allison Smith, fr by June Wallack, it by Carlo Flora, ru by Maxim Topal.",
             "Converted to 16-bit mono WAV with the samples unchanged; transcripts cleaned of notes in brackets.",
         ])),
        ("debian/copyright of the packages", copyright_text or "(not found)"),
    ])
    summary = (f"{len(rows['train'])} train + {len(rows['test'])} test recordings of {len(groups)} prompts "
               f"({len(test_groups)} test) in {len(per_lang)} languages "
               f"({', '.join(f'{k} {v}' for k, v in counts.items())}), {hours:.2f} h, "
               f"{common.megabytes(out / 'wav'):.1f} MB")
    common.write_ready(out, summary)
    common.log(NAME, f"{summary}; {converted_total} converted; {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
