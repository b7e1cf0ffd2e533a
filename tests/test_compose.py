"""One config pipeline: run files, `--set`, study sections and grid cells are `Layer`s."""

import pathlib

import pytest

from stablesim import ConfigError
from stablesim.config import Layer, RunConfig, changed, compose, load_run_config
from stablesim.studies import load_study


def test_layers_merge_key_by_key_and_the_last_wins(tmp_path):
    config = compose([Layer({"training": {"updates": 5, "batch_size": 3},
                             "modality": {"name": "NOG", "unroll": 2}}),
                      Layer.settings({"training.updates": 9}),
                      Layer({"modality": {"unroll": 3}})])
    assert (config.training.updates, config.training.batch_size) == (9, 3)
    assert (config.modality.name, config.modality.unroll) == ("NOG", 3)
    # An empty section adds nothing; it does not wipe the earlier one.
    same = compose([Layer({"training": {"updates": 5}}), Layer({"training": {}})])
    assert same.training.updates == 5


def test_each_layer_resolves_its_paths_against_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    config = compose([Layer({"model": {"init_from": "start"}}, a),
                      Layer.settings({"data.file": "d.h5"}, base_dir=b)],
                     source="x")
    assert config.model.init_from == str(a / "start")
    assert config.data.file == str(b / "d.h5")
    on_line = load_run_config(None, ["model.init_from=runs/s"], check_data=False)
    assert on_line.model.init_from == str(tmp_path / "runs" / "s")


def test_old_key_names_upgrade_per_layer_so_a_later_new_name_wins(capsys):
    config = compose([Layer({"training": {"steps": 40}}),
                      Layer.settings(["training.updates=7"], command_line=True)])
    assert config.training.updates == 7
    assert compose([Layer({"training": {"steps": 40}})]).training.updates == 40
    with pytest.raises(ConfigError, match="also given under its old name training.steps"):
        compose([Layer({"training": {"steps": 4, "updates": 5}})], source="f.yaml")


def test_problems_are_blamed_on_set_only_for_keys_given_on_the_command_line():
    with pytest.raises(ConfigError, match=r"^--set training.updates: "):
        compose([Layer({}), Layer.settings(["training.updates=0"], command_line=True)])
    with pytest.raises(ConfigError, match=r"^run.yaml: training.updates"):
        compose([Layer({"training": {"updates": 0}}),
                 Layer.settings(["modality.unroll=2"], command_line=True)], source="run.yaml")
    base = RunConfig()
    with pytest.raises(ConfigError, match=r"^fix 'x': modality.unroll"):
        changed(base, {"modality.unroll": 0}, source="fix 'x'")
    assert changed(base, {"modality.noise": 0.5}, source="s").modality.noise == 0.5


def test_a_study_cell_is_the_same_config_as_a_run_file_with_its_settings(tmp_path):
    """The oracle: the same keys written as one run file and loaded by `load_run_config`."""
    (tmp_path / "base.yaml").write_text("training:\n  steps: 30\n  batch_size: 4\n"
                                        "model:\n  init_from: warm\n")
    study = tmp_path / "study.yaml"
    study.write_text("base: base.yaml\nconfig:\n  evaluation.horizon: 3\n"
                     "grid:\n  modality.name: [ONE, NOG]\n")
    _, base, cells = load_study(study, overrides=("training.updates=12",))
    assert base.training.updates == 12 and base.evaluation.horizon == 3
    for cell in cells:
        flat = tmp_path / f"{cell.name}.yaml"
        flat.write_text("training:\n  updates: 12\n  batch_size: 4\nmodel:\n  init_from: warm\n"
                        f"evaluation:\n  horizon: 3\nmodality:\n  name: {cell.varied['modality.name']}\n")
        assert cell.config == load_run_config(flat, check_data=False)
    assert pathlib.Path(cells[0].config.model.init_from) == tmp_path / "warm"
