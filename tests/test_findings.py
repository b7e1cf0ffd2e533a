"""The findings paragraph: computed from the numbers, both outcomes of every finding."""

import pytest

from stablesim.studies import check_findings, findings_paragraph

SETS = ("interpolation", "extrapolation")


def errors(table):
    """{(setup, modality): (interp, extrap)} -> the input of check_findings."""
    return {key: dict(zip(SETS, values)) for key, values in table.items()}


PAPER_LIKE = errors({
    ("prediction", "ONE"): (0.040, 0.130), ("prediction", "NOG"): (0.030, 0.100),
    ("prediction", "WIG"): (0.025, 0.090),
    ("correction", "ONE"): (0.010, 0.012), ("correction", "NOG"): (0.005, 0.006),
    ("correction", "WIG"): (0.004, 0.005),
})


def verdicts(found):
    return {f.claim: f.reproduced for f in found}


def test_every_finding_reproduced_when_the_numbers_show_it():
    found = check_findings(PAPER_LIKE)
    assert verdicts(found) == {
        "correction beats prediction at every modality": True,
        "NOG with the solver (correction) beats WIG without it (prediction)": True,
        "WIG beats ONE in prediction": True, "WIG beats ONE in correction": True,
        "NOG beats ONE in prediction": True, "NOG beats ONE in correction": True,
        "extrapolation to unseen parameters is harder than interpolation": True,
    }
    headline = next(f for f in found if f.claim.startswith("NOG with the solver"))
    assert "5.0x / 15.0x" in headline.evidence  # 0.025/0.005, 0.090/0.006
    text = findings_paragraph(found, "fine-tuning")
    assert text.startswith("**Findings of the unrolling paper (fine-tuning regime):** this run "
                           "reproduces 7 of 7.") and "Not reproduced" not in text


@pytest.mark.parametrize("change, claim", [
    ({("correction", "WIG"): (0.030, 0.005)}, "correction beats prediction at every modality"),
    ({("correction", "NOG"): (0.030, 0.006)},
     "NOG with the solver (correction) beats WIG without it (prediction)"),
    ({("prediction", "WIG"): (0.025, 0.140)}, "WIG beats ONE in prediction"),
    ({("correction", "NOG"): (0.0105, 0.011)}, "NOG beats ONE in correction"),
    ({("correction", "ONE"): (0.013, 0.012)},
     "extrapolation to unseen parameters is harder than interpolation"),
])
def test_each_finding_fails_when_its_numbers_say_no(change, claim):
    table = {**PAPER_LIKE, **errors(change)}
    found = check_findings(table)
    wrong = {c for c, ok in verdicts(found).items() if not ok}
    assert claim in wrong
    text = findings_paragraph(found, "from-scratch")
    assert f"reproduces {7 - len(wrong)} of 7" in text
    assert "Not reproduced: " in text and claim in text.split("Not reproduced: ")[1]


def test_only_findings_whose_cells_exist_are_checked():
    only_prediction = {k: v for k, v in PAPER_LIKE.items() if k[0] == "prediction"}
    assert set(verdicts(check_findings(only_prediction))) == {
        "WIG beats ONE in prediction", "NOG beats ONE in prediction",
        "extrapolation to unseen parameters is harder than interpolation"}
    assert findings_paragraph([], "from-scratch") == ""
