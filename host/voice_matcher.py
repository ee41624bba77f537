"""Personal keyword matching: the user's takes as templates, found in a live stream by DTW.

Each take of a command becomes a template: its sequence of the profile's vectors (one per
80 ms, unit length; voice_front_end.py). A stream is matched against every template at once by
subsequence dynamic time warping: for each template, the cheapest warp of the whole template
onto a stretch of the stream that ends now, its cost the mean cosine distance along the path
(so long and short templates compare). One column of the DTW table per new stream vector,
vectorised over templates: a few numpy operations per 80 ms.

A command's score is the lowest cost among its templates; it fires when that is under its
threshold (calibrated per user from the takes, see `calibrate`) and it is the best command
relative to its threshold. Nothing here knows any words: the takes define the phrase.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Calibration bounds on a match's score (the mean cosine distance along the worse half of the
# path), chosen on development voices (docs/speech/enrollment.md): the same speaker and phrase
# scores 0.02-0.05 clean and up to ~0.08 in a reverberant, noisy room; phrases that share one
# word with a command ("next time") from ~0.07; other commands of the same speaker from ~0.09.
# Measured on speech_embedding alone and kept when the vectors gained their keyword part: at
# these bounds the two-part vectors hear more takes and fire on fewer near misses in a noisy room.
THRESHOLD_FLOOR = 0.05
THRESHOLD_CEILING = 0.07
POSITIVE_MARGIN = 1.15  # threshold = this x the worst leave-one-out distance of the user's own takes
IMPOSTOR_MARGIN = 0.85  # ...but below this x the nearest take of another command
# Second opinion: a match up to this far above its threshold also fires when the generic keyword
# model, which was trained on rooms and noise, gives the same command at least CONFIRM_POSTERIOR.
CONFIRM_RATIO = 1.4
CONFIRM_POSTERIOR = 0.7
REARM_RATIO = 1.3  # a command fires again only after its cost rose this far above its threshold
REFRACTORY_S = 1.0
VECTOR_S = 0.08  # stream time per embedding vector


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)


class TemplateBank:
    """Templates of several commands packed into one array for vectorised DTW."""

    def __init__(self, templates: dict[str, list[np.ndarray]]):
        # A clip shorter than one embedding window gives a template without vectors: left out.
        templates = {c: [t for t in items if len(t)] for c, items in templates.items()}
        self.commands = [c for c, items in templates.items() if items]
        owners, items = [], []
        for command in self.commands:
            for template in templates[command]:
                owners.append(command)
                items.append(unit_rows(template))
        self.owner = np.array(owners)
        self.lengths = np.array([len(t) for t in items], np.int64)
        longest = int(self.lengths.max()) if items else 1
        self.vectors = np.zeros((len(items), longest, items[0].shape[1] if items else 1), np.float32)
        for k, template in enumerate(items):
            self.vectors[k, : len(template)] = template
        self.pad = np.arange(longest)[None, :] >= self.lengths[:, None]  # rows past a template's end
        self.late = np.arange(longest)[None, :] >= (self.lengths[:, None] // 2)  # the second half's rows
        self.columns = np.ascontiguousarray(self.vectors.reshape(-1, self.vectors.shape[-1]).T)  # [dim, templates x rows]
        self.index = {c: np.flatnonzero(self.owner == c) for c in self.commands}

    def __len__(self) -> int:
        return len(self.lengths)


NO_PATH = np.array([np.inf, 1.0, 0.0, 0.0], np.float32)  # cost, length, second half's cost and length


class SubsequenceDTW:
    """Streaming subsequence DTW of every template of a bank; `step` takes one stream vector.

    Each stream vector moves a path on by one template row, by none (said slower than the
    take) or by two (said faster, up to twice as fast; the row in between is matched to the
    same stream vector). Every predecessor is in the previous column, so a column is a few
    numpy operations over all templates and rows at once, not a loop over rows.

    Besides each path's total cost it keeps the part spent on the template's second half, so
    a match is scored by its worse half: "next time" matches the first half of "next tab"
    well and its second half badly, and must not pass on the strength of the first.
    """

    def __init__(self, bank: TemplateBank, batch: tuple[int, ...] = ()):
        """`batch`: that many independent streams at once (each `step` then takes [*batch, dim])."""
        self.bank = bank
        shape = (*batch, *bank.vectors.shape[:2])
        # Per path ending at each (template, row): its cost and length, and the same on the second half.
        self._state = np.broadcast_to(NO_PATH.reshape(4, *[1] * len(shape)), (4, *shape)).copy()
        # The predecessors one and two rows below, shifted into place; the first rows have none.
        self._below = self._state.copy()
        self._two_below = self._state.copy()
        self._rows = np.arange(len(bank.lengths))
        self._last = bank.lengths - 1
        self._late = bank.late.astype(np.float32)

    def step(self, vector: np.ndarray) -> np.ndarray:
        """One unit-length stream vector -> each template's score for a path ending here."""
        bank, late, state, below, two_below = self.bank, self._late, self._state, self._below, self._two_below
        local = 1.0 - np.matmul(vector, bank.columns).reshape(*np.shape(vector)[:-1], *bank.pad.shape)
        np.copyto(local, np.inf, where=bank.pad)
        late_local = np.where(bank.late, local, 0.0)  # the cost on the second half's rows
        below[..., 1:] = state[..., :-1]
        # Two rows on: the row between is passed at this same stream vector, and counts.
        two_below[..., 2:] = state[..., :-2]
        two_below[0, ..., 2:] += local[..., 1:-1]
        two_below[1, ..., 2:] += 1.0
        two_below[2, ..., 2:] += late_local[..., 1:-1]
        two_below[3, ..., 2:] += late[:, 1:-1]
        # The lowest mean cost; on a tie the row below, then the same row (as argmin's order).
        stay = state[0] / state[1]
        from_below = below[0] / below[1]
        from_two = two_below[0] / two_below[1]
        take_below = (from_below <= stay) & (from_below <= from_two)
        take_two = ~take_below & (from_two < stay)
        new = np.where(take_below, below, np.where(take_two, two_below, state))
        new[0] += local
        new[1] += 1.0
        new[2] += late_local
        new[3] += late
        # A template may start anywhere in the stream: its first row always starts afresh.
        new[0, ..., 0], new[1, ..., 0] = local[..., 0], 1.0
        new[2, ..., 0], new[3, ..., 0] = late_local[..., 0], late[:, 0]
        self._state = new
        total, length, late_cost, late_steps = new[..., self._rows, self._last]
        with np.errstate(invalid="ignore", divide="ignore"):
            second = late_cost / late_steps
            first = np.where(length > late_steps, (total - late_cost) / (length - late_steps), second)
        return np.fmax(first, second)


def best_costs(bank: TemplateBank, sequence: np.ndarray) -> np.ndarray:
    """Each template's lowest cost anywhere in a whole sequence of vectors."""
    dtw = SubsequenceDTW(bank)
    best = np.full(len(bank), np.inf, np.float32)
    for vector in unit_rows(sequence):
        np.minimum(best, dtw.step(vector), out=best)
    return best


def best_costs_each(bank: TemplateBank, sequences: np.ndarray, chunk: int = 500) -> np.ndarray:
    """[N, vectors, dim] sequences of one length -> [N, templates]: each one's lowest cost per
    template, `chunk` sequences at a time as parallel streams."""
    return _best_costs_of_unit(bank, _unit_sequences(sequences), chunk)


def _best_costs_of_unit(bank: TemplateBank, sequences: np.ndarray, chunk: int = 500) -> np.ndarray:
    best = np.full((len(sequences), len(bank)), np.inf, np.float32)
    for start in range(0, len(sequences), chunk):
        part = sequences[start: start + chunk]
        dtw = SubsequenceDTW(bank, batch=(len(part),))
        for column in range(part.shape[1]):
            np.minimum(best[start: start + len(part)], dtw.step(part[:, column]), out=best[start: start + len(part)])
    return best


def _lower_bounds(bank: TemplateBank, sequences: np.ndarray) -> np.ndarray:
    """[N] a bound under each sequence's lowest cost: a path visits every row of both halves of
    a template, so on each half its score is at least the lowest distance of any of that half's
    rows to any of the sequence's vectors."""
    nearest = (1.0 - sequences.reshape(-1, sequences.shape[-1]) @ bank.columns).reshape(*sequences.shape[:2], *bank.pad.shape).min(axis=1)
    late = bank.late
    early_bound = np.where(~late & ~bank.pad, nearest, np.inf).min(axis=-1)
    late_bound = np.where(late & ~bank.pad, nearest, np.inf).min(axis=-1)
    return np.maximum(np.where(np.isfinite(early_bound), early_bound, late_bound), late_bound).min(axis=1)


def _unit_sequences(sequences: np.ndarray) -> np.ndarray:
    sequences = np.asarray(sequences, np.float32)
    return unit_rows(sequences.reshape(-1, sequences.shape[-1])).reshape(sequences.shape)


def lowest_costs(bank: TemplateBank, sequences: np.ndarray, limit: float, chunk: int = 200) -> tuple[np.ndarray, float]:
    """Over [N, vectors, dim] sequences of one length: the sorted lowest costs of those that some
    template matches under `limit`, and the lowest cost of all. The DTW runs only where it can
    matter: on the sequences whose lower bound is under `limit`, then, while none is, in the
    order of their bound until it passes the best cost found."""
    sequences = _unit_sequences(sequences)
    if not len(sequences) or not len(bank):
        return np.zeros(0, np.float32), float("inf")
    return _search(bank, sequences, _lower_bounds(bank, sequences), limit, chunk)


def _search(bank: TemplateBank, sequences: np.ndarray, bound: np.ndarray, limit: float,
            chunk: int = 200) -> tuple[np.ndarray, float]:
    """`lowest_costs` on unit sequences, given a lower bound of each one's cost."""
    candidates = np.flatnonzero(bound < limit)
    costs = _best_costs_of_unit(bank, sequences[candidates]).min(axis=1) if len(candidates) else np.zeros(0, np.float32)
    below = np.sort(costs[costs < limit])
    if len(below):
        return below, float(below[0])
    best = float(costs.min()) if len(costs) else float("inf")
    rest = np.argsort(np.where(bound < limit, np.inf, bound), kind="stable")[: len(bound) - len(candidates)]
    for start in range(0, len(rest), chunk):
        part = rest[start: start + chunk]
        if bound[part[0]] >= best:
            break
        best = min(best, float(_best_costs_of_unit(bank, sequences[part]).min()))
    return below, best


class SequenceSearch:
    """`lowest_costs` over fixed sequences (the bundled everyday speech) for banks built from the
    same takes again and again: each take's lower bound is computed once (a bank's bound is the
    lowest of its takes'), so a command's new take costs one take's bound, not all of them."""

    def __init__(self, sequences: np.ndarray):
        self.sequences = _unit_sequences(sequences)
        self._bounds: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.sequences)

    def bound(self, name: str, templates: list[np.ndarray]) -> np.ndarray:
        """The take named `name` (its templates never change): a bound under each sequence's cost."""
        if name not in self._bounds:
            bank = TemplateBank({name: templates})
            self._bounds[name] = (_lower_bounds(bank, self.sequences) if len(bank) and len(self.sequences)
                                  else np.full(len(self.sequences), np.inf, np.float32))
        return self._bounds[name]

    def lowest_costs(self, takes: dict[str, list[np.ndarray]], limit: float) -> tuple[np.ndarray, float]:
        """As `lowest_costs`, for a bank of these named takes."""
        bank = TemplateBank(takes)
        if not len(self.sequences) or not len(bank):
            return np.zeros(0, np.float32), float("inf")
        bound = np.min([self.bound(name, templates) for name, templates in takes.items()], axis=0)
        return _search(bank, self.sequences, bound, limit)


def command_costs(bank: TemplateBank, costs: np.ndarray) -> dict[str, float]:
    return {c: float(costs[idx].min()) for c, idx in bank.index.items()}


@dataclass
class Calibration:
    thresholds: dict[str, float]
    positives: dict[str, float]  # worst leave-one-out cost of the command's own takes
    impostors: dict[str, float]  # cost of the nearest take of another command


class PairCosts:
    """The lowest cost of a query sequence against each take's templates, remembered: when one
    take is added, only its own pairs are matched, not every take against every other again.
    Takes are named by strings (TemplateBank's labels); a query's key names a take and which of
    its versions. A name is never reused for other vectors."""

    def __init__(self):
        self._costs: dict = {}

    def lowest(self, query_key, query: np.ndarray, takes: dict) -> dict:
        """`takes`: key -> that take's templates. Each take's lowest cost for `query`."""
        missing = {k: v for k, v in takes.items() if (query_key, k) not in self._costs}
        if missing:
            bank = TemplateBank(missing)
            costs = best_costs(bank, query) if len(bank) else np.zeros(0, np.float32)
            for key in missing:
                index = bank.index.get(key)
                self._costs[query_key, key] = float(costs[index].min()) if index is not None else float("inf")
        return {k: self._costs[query_key, k] for k in takes}

    def lowest_of_all(self, query_key, query: np.ndarray, takes: dict) -> float:
        return min(self.lowest(query_key, query, takes).values(), default=float("inf"))


def calibrate(takes: dict[str, list[list[np.ndarray]]], names: dict[str, list] | None = None,
              pairs: PairCosts | None = None) -> Calibration:
    """Thresholds per command from the user's takes alone.

    `takes[command]` holds one entry per take: its embedding sequences, the clean take first,
    then its room/noise versions. Leave-one-out: each take (all its versions) against the
    templates of the command's other takes gives the costs a real repetition reaches; the
    other commands' takes against this command's templates give what must stay out.
    `names[command]` names each take (a string) for `pairs`, whose remembered costs are reused.
    """
    pairs = pairs or PairCosts()
    names = names or {c: [f"{c}/{i}" for i in range(len(ts))] for c, ts in takes.items()}
    thresholds, positives, impostors = {}, {}, {}
    for command, command_takes in takes.items():
        own = dict(zip(names[command], command_takes))
        worst = 0.0
        for held_out, versions in own.items():
            others = {name: v for name, v in own.items() if name != held_out}
            if not others:
                continue
            worst = max(worst, max(pairs.lowest_of_all((held_out, n), v, others) for n, v in enumerate(versions)))
        nearest = min((pairs.lowest_of_all((name, 0), v[0], own) for other, ts in takes.items() if other != command
                       for name, v in zip(names[other], ts)), default=np.inf)
        threshold = min(max(worst * POSITIVE_MARGIN, THRESHOLD_FLOOR), THRESHOLD_CEILING)
        threshold = min(threshold, max(nearest * IMPOSTOR_MARGIN, THRESHOLD_FLOOR * 0.8))
        thresholds[command], positives[command], impostors[command] = round(threshold, 5), worst, nearest
    return Calibration(thresholds, positives, impostors)


@dataclass
class PersonalDetector:
    """Follows one stream's embedding vectors and reports enrolled commands once each."""

    bank: TemplateBank
    thresholds: dict[str, float]
    enabled: tuple[str, ...] | None = None  # None: every enrolled command
    refractory_s: float = REFRACTORY_S
    _dtw: SubsequenceDTW = field(init=False)
    _quiet_until: float = field(default=-1.0, init=False)
    _latched: set = field(default_factory=set, init=False)
    best_ratio: dict = field(default_factory=dict, init=False)  # per command: lowest cost / threshold seen

    def __post_init__(self):
        self._dtw = SubsequenceDTW(self.bank)

    def commands(self) -> list[str]:
        return [c for c in self.bank.commands if self.enabled is None or c in self.enabled]

    def step(self, vector: np.ndarray, now_s: float, confirm=None, allowance: float = 1.0) -> dict | None:
        """`confirm(command, ratio)`, when given, names who confirms a near match ("verifier",
        "generic") or None, `ratio` being its cost over its threshold (1 to CONFIRM_RATIO);
        `allowance` widens every threshold in a noisy room (voice_noise.py)."""
        costs = command_costs(self.bank, self._dtw.step(unit_rows(vector[None])[0]))
        best, best_ratio, best_cost = None, np.inf, None
        for command in self.commands():
            ratio = costs[command] / (self.thresholds[command] * allowance)
            self.best_ratio[command] = min(self.best_ratio.get(command, np.inf), ratio)
            if ratio > REARM_RATIO:
                self._latched.discard(command)
            if ratio < best_ratio:
                best, best_ratio, best_cost = command, ratio, costs[command]
        if best is None or now_s < self._quiet_until or best in self._latched:
            return None
        confirmed_by = None
        if best_ratio > 1.0:
            if confirm is None or best_ratio > CONFIRM_RATIO:
                return None
            confirmed_by = confirm(best, best_ratio)
            if not confirmed_by:
                return None
        self._quiet_until = now_s + self.refractory_s
        self._latched.add(best)
        # A score in [0, 1] like the generic model's: 1 at a perfect match, 0.5 at the threshold.
        score = float(1.0 / (1.0 + best_ratio))
        found = {"command": best, "score": round(score, 4), "time_s": round(now_s, 3), "cost": round(best_cost, 5)}
        if confirmed_by:
            found["confirmed_by"] = confirmed_by
        return found
