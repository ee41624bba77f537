"""The profile's verifier: is this the user's command, or only something close to it?

The template matcher (voice_matcher.py) is sure of a take said like the user's takes, and
unsure of one said in another room or in noise: its cost lands just above the threshold,
where near misses land too. For those matches the verifier decides. Per taught command it is
a linear classifier on the speech_embedding part of the last WINDOW vectors (unit rows,
flattened; voice_front_end.speech_part):

- positives: the command's takes, as recorded, in the enrollment rooms (voice_takes.room_versions)
  and in COPIES more random rooms, noises and speeds (`verifier_versions`), ending where the
  phrase ends (give or take two hops);
- negatives: every window of the user's other commands (same rooms), and the bundled
  generic speech (`voice_negatives`: ordinary speech in many voices, languages, rooms and noises).

Trained in closed form from the cached versions (about 0.1 s for six commands), so a new
take rebuilds it at once. Nothing assumes the words: the takes define each phrase.
"""

from __future__ import annotations

import numpy as np

from .speech_embedding import EMBED_DIM
from .voice_front_end import fuse, speech_part
from .voice_takes import at_snr, change_speed, reverb, seeded_rng

WINDOW = 6  # vectors: 0.48 s of hops over a 1.24 s span, the length of a short command
DIM = EMBED_DIM  # the speech_embedding part of each vector
COPIES = 16  # random versions per take, on top of the 8 enrollment rooms
VERSIONS_ID = "verify3"  # names the set below in the feature cache: change it when the set changes
# The probability that confirms a near match rises with how far above its threshold the match
# is: ACCEPT_NEAR just over it, ACCEPT_FAR at voice_matcher.CONFIRM_RATIO, the farthest that is
# asked (one bar of 0.97 everywhere: on the development voices 2 takes of 432 fewer heard and
# 2 more near misses fired of 2,304).
ACCEPT_NEAR = 0.9
ACCEPT_FAR = 0.99
RIDGE = 1e-3  # on the weighted Gram matrix, whose diagonal is about 0.01


def _colored(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spectrum / f**exponent, n)


def verifier_versions(clip: np.ndarray, copies: int = COPIES) -> list[np.ndarray]:
    """Random rooms (0.2-1 s), noise from white to brown at 5-25 dB SNR and speeds 0.8-1.25x,
    seeded by the clip: the same take always gives the same copies."""
    rng = seeded_rng(clip, "verifier")
    out = []
    for _ in range(copies):
        x = clip
        if rng.random() < 0.6:
            x = change_speed(x, float(rng.uniform(0.8, 1.25)))
        if rng.random() < 0.7:
            x = reverb(x, float(rng.uniform(0.2, 1.0)), rng, float(rng.uniform(0, 6)))
        if rng.random() < 0.8:
            noise = _colored(len(x), rng, float(rng.choice([0.0, 0.5, 1.0, 1.5])))
            x = at_snr(x, noise, float(rng.uniform(5, 25)))
        out.append(np.asarray(x, np.float32))
    return out


def windows(sequence: np.ndarray, ends=None) -> np.ndarray:
    """[vectors, d] -> [n, WINDOW * d]: unit rows, flattened, ending at `ends` (default: every
    vector). A sequence shorter than WINDOW is padded with its first vector."""
    seq = np.asarray(sequence, np.float32)
    if len(seq) == 0:
        return np.zeros((0, WINDOW * seq.shape[-1]), np.float32)
    seq = seq / np.maximum(np.linalg.norm(seq, axis=1, keepdims=True), 1e-6)
    if len(seq) < WINDOW:
        seq = np.concatenate([np.repeat(seq[:1], WINDOW - len(seq), axis=0), seq])
    ends = range(WINDOW - 1, len(seq)) if ends is None else [e for e in ends if WINDOW - 1 <= e < len(seq)]
    return np.stack([seq[e - WINDOW + 1: e + 1].reshape(-1) for e in ends] or [seq[-WINDOW:].reshape(-1)])


def phrase_windows(sequence: np.ndarray) -> np.ndarray:
    """The windows where a take's phrase ends: the last vector and up to two hops earlier (the
    stream asks the verifier when the template match crosses, give or take a hop)."""
    n = max(len(sequence), WINDOW)
    return windows(sequence, [n - 1, n - 2, n - 3])


class Verifier:
    """One calibrated linear head per command over the last WINDOW vectors."""

    def __init__(self, commands: list[str], weights: np.ndarray, bias: np.ndarray):
        self.commands = list(commands)
        self._index = {c: i for i, c in enumerate(self.commands)}
        self.weights, self.bias = weights, bias  # [WINDOW * 96, commands], [commands]

    def probability(self, command: str, recent: np.ndarray) -> float:
        """P(the last vectors of `recent` end the user's `command`); 0 for an unknown command."""
        if command not in self._index or len(recent) == 0:
            return 0.0
        last = speech_part(recent[-WINDOW:])
        x = windows(last, [max(len(last), WINDOW) - 1])[0]
        i = self._index[command]
        z = float(x @ self.weights[:, i] + self.bias[i])
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(x, np.float32), np.ones((len(x), 1), np.float32)], axis=1)


class GenericSpeech:
    """The bundled generic speech (voice_negatives), made ready once when the bank is loaded:
    every profile build reuses it.

    - `rows`, `gram`: the speech_embedding windows [n, WINDOW * 96] as the verifier's training
      rows (with a bias column) and their Gram matrix;
    - `stretches`: the same windows as profile vectors, both parts [n, WINDOW, 256]
      (voice_front_end.fuse), for the check before a command is served."""

    def __init__(self, speech_windows: np.ndarray, keyword_windows: np.ndarray):
        self.rows = _with_bias(speech_windows)
        self.gram = self.rows.T @ self.rows
        count = len(speech_windows)
        self.stretches = fuse(speech_windows.reshape(count, WINDOW, DIM), keyword_windows.reshape(count, WINDOW, -1))
        for array in (self.rows, self.gram, self.stretches):
            array.setflags(write=False)


def _design(sequences: dict[str, list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window of every take version: rows (with a bias column), owning command, phrase end?"""
    rows, owner, is_end = [], [], []
    for i, command in enumerate(sequences):
        for seq in sequences[command]:
            seq = speech_part(seq)
            ends, every = phrase_windows(seq), windows(seq)
            rows += [ends, every]
            owner += [i] * (len(ends) + len(every))
            is_end += [True] * len(ends) + [False] * len(every)
    return _with_bias(np.concatenate(rows)), np.asarray(owner), np.asarray(is_end)


def _calibrate(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * score + b): weighted logistic regression in 1-d, Newton steps."""
    features = np.stack([scores, np.ones_like(scores)], axis=1).astype(np.float64)
    theta = np.array([8.0, -4.0])  # a least-squares score is about 0 for negatives, 1 for positives
    for _ in range(20):
        p = 1.0 / (1.0 + np.exp(-np.clip(features @ theta, -30.0, 30.0)))
        gradient = features.T @ (weights * (p - labels)) + 1e-4 * theta
        hessian = (features * (weights * p * (1 - p))[:, None]).T @ features + 1e-4 * np.eye(2)
        theta -= np.linalg.solve(hessian, gradient)
    return float(theta[0]), float(theta[1])


def train(sequences: dict[str, list[np.ndarray]], generic: GenericSpeech | None) -> Verifier:
    """`sequences[command]`: the embedding sequences of the command's takes, every version.

    Per command, weighted least squares in closed form: target 1 on its phrase windows, 0 on
    every window of the other commands and on `generic`, each class half the weight (the rest
    of its own windows, the phrase half said, are left out); then a logistic calibration of
    that score. The generic windows enter through their Gram matrix (`GenericSpeech`)."""
    x, owner, is_end = _design(sequences)
    d = x.shape[1]
    generic_rows = generic.rows if generic is not None else np.zeros((0, d), np.float32)
    generic_gram = generic.gram if generic is not None else np.zeros((d, d), np.float32)
    ridge = np.eye(d) * RIDGE
    ridge[-1, -1] = 0.0  # the bias is not shrunk
    heads, biases = [], []
    for i in range(len(sequences)):
        positive, negative = (owner == i) & is_end, owner != i
        weight_pos = 0.5 / max(int(positive.sum()), 1)
        weight_neg = 0.5 / max(int(negative.sum()) + len(generic_rows), 1)
        weight = np.where(positive, weight_pos, np.where(negative, weight_neg, 0.0)).astype(np.float32)
        lhs = (x * weight[:, None]).T @ x + weight_neg * generic_gram
        solution = np.linalg.solve(lhs.astype(np.float64) + ridge, (x.T @ (weight * positive)).astype(np.float64))
        used = positive | negative
        scores = np.concatenate([x[used] @ solution, generic_rows @ solution])
        labels = np.concatenate([positive[used], np.zeros(len(generic_rows), bool)]).astype(np.float64)
        weights = np.concatenate([weight[used], np.full(len(generic_rows), weight_neg)]).astype(np.float64)
        a, b = _calibrate(scores, labels, weights)
        heads.append(solution[:-1] * a)
        biases.append(solution[-1] * a + b)
    return Verifier(list(sequences), np.stack(heads, axis=1).astype(np.float32), np.asarray(biases, np.float32))
