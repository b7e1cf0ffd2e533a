"""A study's report shows every cell's long-rollout verdicts, as its metrics hold them."""

import copy
import json

import yaml

from stablesim.cli import main

from _tiny import TINY


def test_the_report_tables_each_cells_long_rollout_verdicts(tmp_path, capsys):
    base = copy.deepcopy(TINY)
    base["evaluation"].update(stability_steps=30, gradient_unrolls=[])
    base["training"]["seeds"] = [0]
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(
        {"name": "long", "base": "base.yaml", "grid": {"modality.name": ["ONE"]}}))
    assert main(["study", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "s"),
                 "--quiet"]) == 0
    report = (tmp_path / "s" / "report.md").read_text()
    assert "## Long rollouts" in report and "30 steps" in report
    metrics = json.loads((tmp_path / "s" / "runs" / "ONE" / "metrics.json").read_text())
    lines = report.split("## Long rollouts", 1)[1].splitlines()
    for test_set in ("interpolation", "extrapolation"):
        v = metrics["summary"][test_set]["physics"]["verdicts"]
        row = next(line for line in lines if f"| {test_set} |" in line)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2:5] == [str(v["stable"]), str(v["bounded but unphysical"]),
                              str(v["diverges"])]
