"""The template matcher's DTW, checked against a plain re-statement of its recurrence.

`SubsequenceDTW` computes every template and row of a column at once; here the same
recurrence is written out one cell at a time, and the two must agree on every stream vector.
Then what the step pattern is for: a take said slower or up to twice as fast still matches,
and a stream that only shares the template's first half does not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import host.voice_matcher as voice_matcher
from host.voice_matcher import (IMPOSTOR_MARGIN, POSITIVE_MARGIN, THRESHOLD_CEILING, THRESHOLD_FLOOR, PairCosts,
                                 SequenceSearch, SubsequenceDTW, TemplateBank, best_costs, best_costs_each, calibrate,
                                 lowest_costs, unit_rows)

DIM = 96


def reference_scores(template: np.ndarray, stream: np.ndarray) -> list[float]:
    """Each stream vector's score of the best path ending there, one DTW cell at a time."""
    rows = len(template)
    late = [r >= rows // 2 for r in range(rows)]
    previous = [(math.inf, 1.0, 0.0, 0.0)] * rows  # (cost, steps, cost on the second half, its steps)
    scores = []
    for vector in stream:
        local = [1.0 - float(t @ vector) for t in template]
        current = []
        for r in range(rows):
            on_late = (local[r] if late[r] else 0.0, 1.0 if late[r] else 0.0)
            if r == 0:  # a path may start at any stream vector
                current.append((local[0], 1.0, *on_late))
                continue
            options = [previous[r - 1], previous[r]]  # one row on; the same row
            if r >= 2:  # two rows on, the row between matched to this same vector
                c, s, c2, s2 = previous[r - 2]
                mid = r - 1
                options.append((c + local[mid], s + 1, c2 + (local[mid] if late[mid] else 0.0), s2 + late[mid]))
            c, s, c2, s2 = min(options, key=lambda o: o[0] / o[1])
            current.append((c + local[r], s + 1, c2 + on_late[0], s2 + on_late[1]))
        previous = current
        total, length, late_cost, late_steps = current[-1]
        second = late_cost / late_steps
        first = (total - late_cost) / (length - late_steps) if length > late_steps else second
        scores.append(max(first, second))
    return scores


def smooth_sequence(rng: np.random.Generator, length: int) -> np.ndarray:
    """Unit vectors that drift slowly, like speech embeddings 80 ms apart."""
    steps = rng.standard_normal((length, DIM)) * 0.25
    steps[0] = rng.standard_normal(DIM)
    return unit_rows(np.cumsum(steps, axis=0))


def test_the_vectorised_dtw_is_the_recurrence():
    rng = np.random.default_rng(0)
    templates = {"a": [smooth_sequence(rng, n) for n in (1, 2, 5)], "b": [smooth_sequence(rng, n) for n in (3, 9)]}
    bank = TemplateBank(templates)
    stream = np.concatenate([unit_rows(rng.standard_normal((6, DIM))), templates["b"][1], smooth_sequence(rng, 12)])
    dtw = SubsequenceDTW(bank)
    got = np.array([dtw.step(v) for v in stream])  # [stream, templates]
    flat = [t for c in bank.commands for t in templates[c]]
    for k, template in enumerate(flat):
        np.testing.assert_allclose(got[:, k], reference_scores(template, stream), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("speed", [0.5, 0.8, 1.0, 1.25, 2.0])
def test_a_take_said_slower_or_up_to_twice_as_fast_matches(speed):
    rng = np.random.default_rng(1)
    template = smooth_sequence(rng, 12)
    count = int(np.ceil((len(template) - 1) / speed)) + 1  # first to last vector at `speed`
    said = template[np.round(np.linspace(0, len(template) - 1, count)).astype(int)]
    stream = np.concatenate([unit_rows(rng.standard_normal((5, DIM))), said, unit_rows(rng.standard_normal((5, DIM)))])
    other = smooth_sequence(rng, 12)
    costs = best_costs(TemplateBank({"cmd": [template], "other": [other]}), stream)
    assert costs[0] < THRESHOLD_CEILING / 2, costs
    assert costs[1] > 2 * THRESHOLD_CEILING, costs


def test_sharing_only_the_first_half_is_no_match():
    rng = np.random.default_rng(2)
    template = smooth_sequence(rng, 10)
    stream = np.concatenate([template[:5], smooth_sequence(rng, 8)])  # "next time" against "next tab"
    assert best_costs(TemplateBank({"cmd": [template]}), stream)[0] > 2 * THRESHOLD_CEILING


def test_a_template_without_vectors_is_left_out():
    rng = np.random.default_rng(3)
    bank = TemplateBank({"a": [smooth_sequence(rng, 4), np.zeros((0, DIM), np.float32)], "b": [np.zeros((0, DIM))]})
    assert bank.commands == ["a"] and bank.lengths.tolist() == [4]
    assert np.isfinite(best_costs(bank, smooth_sequence(rng, 6))).all()


def test_lowest_costs_prune_without_missing_any():
    rng = np.random.default_rng(3)
    templates = [smooth_sequence(rng, n) for n in (1, 4, 7, 12)]
    bank = TemplateBank({"a": templates[:2], "b": templates[2:]})
    sequences = np.stack([smooth_sequence(rng, 6) for _ in range(450)])
    sequences[123] = templates[1][np.round(np.linspace(0, 3, 6)).astype(int)]  # a slow repetition of one take
    for k in (7, 70, 150):  # repetitions of another, a little off
        sequences[k] = unit_rows(templates[2][[0, 1, 2, 4, 5, 6]] + rng.standard_normal((6, DIM)) * 0.02 * k / 70)
    each = np.stack([best_costs(bank, s) for s in sequences])
    np.testing.assert_allclose(best_costs_each(bank, sequences, chunk=100), each, rtol=1e-5, atol=1e-6)
    lowest = np.sort(each.min(axis=1))
    assert each.min(axis=1).argmin() == 123
    for k in (0, 1, 3):
        limit = float(lowest[k] + lowest[k + 1]) / 2  # between two costs
        below, best = lowest_costs(bank, sequences, limit)
        np.testing.assert_allclose(below, lowest[: k + 1], rtol=1e-5, atol=1e-6)
        assert best == pytest.approx(float(lowest[0]), rel=1e-5, abs=1e-6)
    # Nothing under the limit: the lowest is still found, by the bound-ordered search.
    below, best = lowest_costs(bank, sequences, float(lowest[0]) / 2)
    assert len(below) == 0 and best == pytest.approx(float(lowest[0]), rel=1e-5, abs=1e-6)
    rest = np.delete(sequences, 123, axis=0)
    below, best = lowest_costs(bank, rest, 1e-3)
    assert best == pytest.approx(float(np.delete(each, 123, axis=0).min()), rel=1e-5, abs=1e-6)


def test_a_search_over_fixed_sequences_bounds_each_take_once_and_finds_what_lowest_costs_finds(monkeypatch):
    rng = np.random.default_rng(5)
    takes = {f"t{i}": [smooth_sequence(rng, n) for n in (5, 8)] for i in range(3)}
    sequences = np.stack([smooth_sequence(rng, 6) for _ in range(300)])
    sequences[40] = unit_rows(takes["t1"][1][[0, 1, 3, 4, 6, 7]] + rng.standard_normal((6, DIM)) * 0.005)
    search = SequenceSearch(sequences)
    bounded = []
    real_lower_bounds = voice_matcher._lower_bounds
    monkeypatch.setattr(voice_matcher, "_lower_bounds",
                        lambda bank, seqs: bounded.append(bank.commands) or real_lower_bounds(bank, seqs))
    for names, limit in ((["t0", "t1"], 0.05), (["t0", "t1", "t2"], 0.05), (["t2"], 0.01), (["t0", "t1", "t2"], 0.3)):
        expected = lowest_costs(TemplateBank({n: takes[n] for n in names}), sequences, limit)
        bounded.clear()
        found = search.lowest_costs({n: takes[n] for n in names}, limit)
        np.testing.assert_allclose(found[0], expected[0], rtol=1e-6)
        assert found[1] == pytest.approx(expected[1], rel=1e-6)
        assert all(len(commands) == 1 for commands in bounded)  # one take at a time, each only once
    assert len(search.lowest_costs({"t1": takes["t1"]}, 0.05)[0]) >= 1  # the repetition of t1's take


def reference_calibration(takes: dict[str, list[list[np.ndarray]]]) -> dict[str, float]:
    """The thresholds' rule with one template bank per question, nothing remembered."""
    thresholds = {}
    for command, own in takes.items():
        others = [TemplateBank({command: [v for j, t in enumerate(own) if j != i for v in t]}) for i in range(len(own))]
        worst = max(float(best_costs(others[i], v).min()) for i, take in enumerate(own) for v in take)
        bank = TemplateBank({command: [v for t in own for v in t]})
        nearest = min(float(best_costs(bank, t[0]).min())
                      for other, ts in takes.items() if other != command for t in ts)
        threshold = min(max(worst * POSITIVE_MARGIN, THRESHOLD_FLOOR), THRESHOLD_CEILING)
        thresholds[command] = round(min(threshold, max(nearest * IMPOSTOR_MARGIN, THRESHOLD_FLOOR * 0.8)), 5)
    return thresholds


def test_calibration_remembers_costs_between_takes_and_matches_only_a_new_takes_pairs(monkeypatch):
    rng = np.random.default_rng(3)

    def take(base: np.ndarray) -> list[np.ndarray]:  # a take and one version of it, near a command's phrase
        said = unit_rows(base + rng.standard_normal(base.shape) * 0.08)
        return [said, unit_rows(said + rng.standard_normal(said.shape) * 0.08)]

    phrases = {"a": smooth_sequence(rng, 8), "b": smooth_sequence(rng, 9)}
    takes = {c: [take(p) for _ in range(3)] for c, p in phrases.items()}
    names = {c: [f"{c}/{i}" for i in range(3)] for c in takes}
    pairs = PairCosts()
    assert calibrate(takes, names, pairs).thresholds == pytest.approx(reference_calibration(takes), abs=1e-5)

    queries = []
    real_best_costs = voice_matcher.best_costs
    monkeypatch.setattr(voice_matcher, "best_costs",
                        lambda bank, query: queries.append(len(bank)) or real_best_costs(bank, query))
    takes["a"].append(take(phrases["a"]))
    names["a"].append("a/3")
    assert calibrate(takes, names, pairs).thresholds == pytest.approx(reference_calibration(takes), abs=1e-5)
    # Only the new take's pairs: its 2 versions against a's other takes, their 2 versions each
    # against it, b's 3 clean takes against it (how near b comes to a), its clean take against b's.
    assert len(queries) == 2 + 3 * 2 + 3 + 1
    assert calibrate(takes, names, pairs).thresholds == pytest.approx(reference_calibration(takes), abs=1e-5)
    assert len(queries) == 12  # nothing new: nothing matched again
