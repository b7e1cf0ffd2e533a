"""Paired intervals and three-way verdicts: against hand-computed cases and a naive resampler."""

import csv

import numpy as np
import pytest

from stablesim.evaluation import RatioInterval, few_seeds_warning, paired_ratio, unpaired_ratio
from stablesim.studies import CellErrors, check_findings, findings_paragraph, summarize_findings
from stablesim.studies._findings import FINDINGS_COLUMNS, findings_rows

SETS = ("interpolation", "extrapolation")


def test_the_interval_of_two_pairs_is_the_range_of_their_ratios():
    # By hand: the resamples of pairs (1, 2) and (3, 2) are both first (ratio 0.5, p 1/4),
    # both second (1.5, p 1/4) or one of each (4 / 4 = 1, p 1/2): the 95% percentile
    # interval is [0.5, 1.5]; an unpaired resampler would also draw 1/2 and 3/2 mixes.
    r = paired_ratio(np.array([1.0, 3.0]), np.array([2.0, 2.0]), method="percentile")
    assert (r.ratio, r.low, r.high, r.pairs, r.paired) == (1.0, 0.5, 1.5, 2, True)


def test_the_paired_interval_matches_a_naive_resampling_loop():
    rng = np.random.default_rng(3)
    den = rng.lognormal(size=(3, 16))
    num = 0.8 * den * rng.lognormal(0.0, 0.3, size=(3, 16))
    got = paired_ratio(num, den, method="percentile")
    # Oracle: draw seed x start pairs with replacement, ratio of the means, percentiles.
    x, y = num.ravel(), den.ravel()
    draws = rng.integers(0, x.size, size=(20000, x.size))
    ratios = x[draws].mean(axis=1) / y[draws].mean(axis=1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    assert got.ratio == pytest.approx(x.mean() / y.mean())
    assert got.low == pytest.approx(low, abs=0.01) and got.high == pytest.approx(high, abs=0.01)
    assert paired_ratio(num, den).low != got.low  # BCa is the default, and it differs


def test_pairing_removes_the_spread_between_starts():
    # Starts differ by orders of magnitude; the numerator is 0.9x the denominator everywhere.
    den = np.logspace(-3, 0, 24).reshape(2, 12)
    num = 0.9 * den * (1 + 0.01 * np.sin(np.arange(24)).reshape(2, 12))
    assert paired_ratio(num, den).verdict() == "holds"
    assert unpaired_ratio(num, den).verdict() == "not significant"


def test_a_solver_without_seeds_is_paired_by_start_with_every_seed():
    solver = np.array([1.0, 2.0, 4.0])
    learned = np.array([[0.5, 1.0, 2.0], [0.5, 1.0, 2.0]])
    r = paired_ratio(learned, solver)
    assert (r.ratio, r.low, r.high, r.pairs) == (0.5, 0.5, 0.5, 6)


@pytest.mark.parametrize("low, high, below, above", [
    (0.5, 0.9, "holds", "fails"), (0.9, 1.1, "not significant", "not significant"),
    (1.1, 1.5, "fails", "holds"),
])
def test_three_way_verdicts(low, high, below, above):
    r = RatioInterval(1.0, low, high, 10, True)
    assert (r.verdict("below"), r.verdict("above")) == (below, above)


def test_fewer_than_five_seeds_and_sixteen_pairs_are_warned_about():
    from stablesim.evaluation import few_pairs_warning

    assert "only 3 seeds" in few_seeds_warning(3) and few_seeds_warning(5) is None
    assert "only 4 seed x start pairs" in few_pairs_warning(4) and few_pairs_warning(16) is None
    few = check_findings(cells(PAPER_LIKE, seeds=2, starts=2))
    assert "only 4 seed x start pairs" in findings_paragraph(few, "x", seeds=2)
    assert "pairs" not in findings_paragraph(check_findings(cells(PAPER_LIKE)), "x", seeds=5)


def cells(factors, seeds=3, starts=8, noise=0.02, seed=0):
    """{(setup, modality): CellErrors}: every cell's errors are a common per-start difficulty
    times its factor (interpolation, extrapolation) times small noise."""
    rng = np.random.default_rng(seed)
    hard = dict.fromkeys(SETS, rng.lognormal(0, 0.3, size=(1, starts)))
    out = {}
    for (setup, modality), pair in factors.items():
        errors = {t: f * hard[t] * rng.lognormal(0, noise, size=(seeds, starts))
                  for t, f in zip(SETS, pair)}
        out[(setup, modality)] = CellErrors(f"{setup}-{modality}", errors)
    return out


PAPER_LIKE = {
    ("prediction", "ONE"): (0.040, 0.130), ("prediction", "NOG"): (0.030, 0.100),
    ("prediction", "WIG"): (0.025, 0.090),
    ("correction", "ONE"): (0.030, 0.100), ("correction", "NOG"): (0.005, 0.009),
    ("correction", "WIG"): (0.004, 0.008),
}
CLAIMS = ["correction beats prediction at every modality",
          "NOG with the solver (correction) beats WIG without it (prediction)",
          "the solver alone carries it: ONE with the solver (correction) already beats WIG "
          "without it (prediction)",
          "WIG beats ONE in prediction", "WIG beats ONE in correction",
          "NOG beats ONE in prediction", "NOG beats ONE in correction",
          "extrapolation to unseen parameters is harder than interpolation"]


def verdicts(found):
    return {f.claim: f.verdict for f in found}


def test_every_finding_holds_when_the_numbers_show_it_clearly():
    found = check_findings(cells(PAPER_LIKE))
    assert list(verdicts(found)) == CLAIMS
    expected = dict.fromkeys(CLAIMS, "holds")
    expected[CLAIMS[2]] = "fails"  # ONE-correction (0.03) is worse than WIG-prediction (0.025)
    assert verdicts(found) == expected
    headline = found[1].comparisons[0]
    assert (headline.numerator, headline.denominator) == ("correction-NOG", "prediction-WIG")
    assert headline.interval.ratio == pytest.approx(0.2, rel=0.05)
    text = findings_paragraph(found, "fine-tuning regime", seeds=3)
    assert "of 8 findings, 7 hold, 0 are not significant and 1 fail" in text
    assert "only 3 seeds" in text and "reproduces" not in text


@pytest.mark.parametrize("change, claim, verdict", [
    ({("prediction", "NOG"): (0.060, 0.100)}, "NOG beats ONE in prediction", "fails"),
    ({("correction", "WIG"): (0.030, 0.008)}, "correction beats prediction at every modality",
     "fails"),
    ({("correction", "NOG"): (0.030, 0.100)}, "NOG beats ONE in correction", "not significant"),
    ({("correction", "ONE"): (0.020, 0.080)}, CLAIMS[2], "holds"),
])
def test_each_finding_gets_its_own_verdict(change, claim, verdict):
    # An equal factor is a tie: its interval straddles 1 (noise only) -> not significant.
    found = check_findings(cells({**PAPER_LIKE, **change}))
    assert verdicts(found)[claim] == verdict


def test_a_tie_is_not_significant_with_noise_and_identical_without():
    tie = {**PAPER_LIKE, ("prediction", "WIG"): PAPER_LIKE[("prediction", "ONE")]}
    assert verdicts(check_findings(cells(tie, noise=0.3)))[CLAIMS[3]] == "not significant"
    exact = check_findings(cells(tie, noise=0.0))
    ratio = next(f for f in exact if f.claim == CLAIMS[3]).comparisons[0].interval
    assert (ratio.low, ratio.high) == pytest.approx((1.0, 1.0))


def test_findings_csv_rows_and_the_terminal_summary(tmp_path):
    found = check_findings(cells(PAPER_LIKE))
    path = tmp_path / "findings.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FINDINGS_COLUMNS)
        writer.writerows(findings_rows(found))
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == sum(len(f.comparisons) for f in found)
    assert {r["verdict"] for r in rows} <= {"holds", "not significant", "fails"}
    text = summarize_findings(path)
    assert text.splitlines()[0].endswith("7 hold, 0 not significant, 1 fail (paired bootstrap "
                                         "95% intervals)")
    assert f"  fails           {CLAIMS[2]}: interpolation" in text


def test_only_findings_whose_cells_exist_are_checked():
    only_prediction = {k: v for k, v in PAPER_LIKE.items() if k[0] == "prediction"}
    assert list(verdicts(check_findings(cells(only_prediction)))) == [
        "WIG beats ONE in prediction", "NOG beats ONE in prediction",
        "extrapolation to unseen parameters is harder than interpolation"]
    assert findings_paragraph([], "from-scratch regime", seeds=3) == ""
