"""Where each benchmark's files come from: known files, their sha256 and canonical URLs.

Every benchmark family reads a small set of files under one folder (``gsm8k/``, ``arc/``,
``hellaswag/``, ``mmlu/``, ``humaneval/``). The folder layout is the same everywhere: in a local
data directory (``NEMO_EVALUATOR_DATA_DIR``), in the download cache and in the bundled samples.
"""

from __future__ import annotations

from dataclasses import dataclass

MMLU_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
)


@dataclass(frozen=True)
class RemoteFile:
    """How to fetch one file of the layout from its canonical source.

    ``member`` names the file inside an archive (``.zip`` or ``.tar``) at ``url``; ``None``
    means ``url`` is the file itself.
    """

    url: str
    member: str | None = None


_GSM8K = (
    "https://raw.githubusercontent.com/openai/grade-school-math/"
    "3101c7d5072418e28b9008a6636bde82a006892c/grade_school_math/data/"
)
_HUMANEVAL = (
    "https://raw.githubusercontent.com/openai/human-eval/"
    "6d43fb980f9fee3c892a914eda09951f772ad10d/data/HumanEval.jsonl.gz"
)
_ARC_ZIP = "https://ai2-public-datasets.s3.amazonaws.com/arc/ARC-V1-Feb2018.zip"
_MMLU_TAR = "https://people.eecs.berkeley.edu/~hendrycks/data.tar"
_HELLASWAG = "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl"

# sha256 of the files whose canonical content is known (family-relative paths). These match
# the published releases byte for byte; see docs/benchmarks.md for where each came from.
KNOWN_SHA256: dict[str, dict[str, str]] = {
    "gsm8k": {
        "test.jsonl": "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
        "train.jsonl": "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
    },
    "humaneval": {
        "HumanEval.jsonl.gz": "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    },
    "arc": {
        "ARC-Easy-Test.jsonl": "ce32a0774b4beb1977d2c6b16dda5dd2b24fdc9c7f506882c452678676bd09be",
        "ARC-Easy-Train.jsonl": "c62e5482d8c01f2d5a7f24239ac9db3b12f9e47267c4e3f088c6ffe41d5545ef",
        "ARC-Easy-Dev.jsonl": "f4364b808a68df6bf500ce1070fb0105d40cacd2391c210deb00ff83ba75d1f4",
        "ARC-Challenge-Test.jsonl": "9fa8ffb3e3a1f88cb302d53dd95aae81e39209ad9bcf974376b319d8fd35717c",
        "ARC-Challenge-Train.jsonl": "e02837c53ee86f6d73c259f91c77725c5062ef4531130b7f473a9d9b01118a77",
        "ARC-Challenge-Dev.jsonl": "55224364abd2477f66a9a57c5cbef109fb71d83019aa5e37aec0e7ab757746ca",
    },
    "hellaswag": {
        # Recorded by a Git-LFS pointer to a copy of rowanz/hellaswag data/hellaswag_val.jsonl
        # (12,246,618 bytes); the canonical file itself was not available to check against.
        "hellaswag_val.jsonl": "0aa3b88843990f3f10a97b9575c94d7b71fb2205240ba04ae4884d9e9c992588",
        "derived_not_canonical/hellaswag_val_full.txt.bz2": (
            "50b637899e4263c2bc456c2dc726c95d2c8cd8e2a552ea5bd7719ce3cb03fe5b"
        ),
    },
    "mmlu": {},
}


def remote_file(family: str, name: str) -> RemoteFile | None:
    """The canonical source of ``family/name``, or ``None`` when it has no download."""
    if family == "gsm8k" and name in ("test.jsonl", "train.jsonl"):
        return RemoteFile(_GSM8K + name)
    if family == "humaneval" and name == "HumanEval.jsonl.gz":
        return RemoteFile(_HUMANEVAL)
    if family == "arc" and name.startswith("ARC-") and name.endswith(".jsonl"):
        subset = name.split("-")[1]
        return RemoteFile(_ARC_ZIP, member=f"ARC-V1-Feb2018-2/ARC-{subset}/{name}")
    if family == "hellaswag" and name == "hellaswag_val.jsonl":
        return RemoteFile(_HELLASWAG)
    if family == "mmlu":
        parts = name.split("/")
        if len(parts) == 2 and parts[0] in ("test", "dev") and parts[1].endswith(".csv"):
            # The original release: CSVs without a header row, answers as letters.
            return RemoteFile(_MMLU_TAR, member=f"data/{name}")
    return None
