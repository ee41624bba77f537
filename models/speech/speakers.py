"""Who speaks: speaker identities across engines and the fixed train / validation / test split.

Splits are by SPEAKER identity, never by engine: kal (flite kal/kal16 + festival kal), slt
(flite slt + festival HTS slt) and ked (festival) are training speakers, rms (flite) is the
validation speaker, awb (flite, Scottish) and Piper's joe are held out for test (with --kokoro,
Kokoro's jf_tebukuro is a second validation speaker, never in a training blend); espeak-ng
variants are split 70/15/15 with a fixed seed (each variant a whole held-out voice).
"""

from __future__ import annotations

import numpy as np

from .voices import espeak, kokoro

SPLIT_SEED = 20261125  # the speaker split never depends on the run seed

NATURAL_VOICES = [  # (engine, voice, speaker identity)
    ("flite", "kal", "kal"), ("flite", "kal16", "kal"), ("festival", "kal_diphone", "kal"),
    ("flite", "slt", "slt"), ("festival", "cmu_us_slt_arctic_hts", "slt"),
    ("flite", "rms", "rms"),
    ("flite", "awb", "awb"), ("festival", "ked_diphone", "ked"),
    ("piper", "joe", "joe"),
]
NATURAL_SPLIT = {"kal": "train", "slt": "train", "ked": "train", "rms": "val", "awb": "test", "joe": "test"}
# Piper's neural en_US "joe" voice is a TEST voice only: the closest thing to a real person's voice
# available here. It is never trained on (its model was fine-tuned from a voice whose data is not
# licence-clean for a shipped model) and is skipped, with a warning, when the extra is not installed.
ESPEAK_SPLIT = {"val": 0.15, "test": 0.15}
# Kokoro's five voice styles: jf_tebukuro is only ever heard in validation, so the threshold
# tuning sees a second natural voice besides flite rms; training also blends two training styles.
KOKORO_SPLIT = {"jf_alpha": "train", "jf_gongitsune": "train", "jf_nezumi": "train", "jm_kumo": "train",
                "jf_tebukuro": "val"}


def speaker_splits() -> dict[str, str]:
    """speaker identity -> "train" | "val" | "test" (fixed, independent of the run seed)."""
    split = {f"natural:{s}": part for s, part in NATURAL_SPLIT.items()}
    split.update({f"kokoro:{name}": part for name, part in KOKORO_SPLIT.items()})
    train_styles = sorted(name for name, part in KOKORO_SPLIT.items() if part == "train")
    for i, a in enumerate(train_styles):  # blends of two training styles are training speakers
        for b in train_styles[i + 1:]:
            split[f"kokoro:{a}+{b}"] = "train"
    variants = espeak.variants()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(variants))
    n_val = max(1, round(ESPEAK_SPLIT["val"] * len(variants)))
    n_test = max(1, round(ESPEAK_SPLIT["test"] * len(variants)))
    for rank, index in enumerate(order):
        split[f"espeak:{variants[index]}"] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return split


def speaker_of(engine: str, voice: str) -> str:
    if engine == "espeak":
        return "espeak:" + voice.split("+", 1)[1]
    if engine == "kokoro":  # "<accent>/<style>[:weight]+<style>:weight": a blend is its own speaker
        return "kokoro:" + "+".join(sorted(name for name, _ in kokoro.styles(voice)))
    return "natural:" + next(s for e, v, s in NATURAL_VOICES if e == engine and v == voice)


def espeak_variants_of(split: str, splits: dict[str, str]) -> list[str]:
    """The espeak-ng variants (speakers) of one split, in variant order."""
    return [v for v in espeak.variants() if splits[f"espeak:{v}"] == split]


def natural_voices_of(split: str, with_piper: bool = False) -> list[tuple[str, str]]:
    """(engine, voice) of the recorded-speaker voices of one split (Piper only where asked)."""
    return [(e, v) for e, v, s in NATURAL_VOICES if NATURAL_SPLIT[s] == split and (with_piper or e != "piper")]
