"""Run configs: YAML, --set overrides, and one-line errors for every user mistake."""

import pytest
import yaml

from stablesim import ConfigError
from stablesim.cli import main
from stablesim.config import RunConfig, load_run_config, parse_override, set_dotted, to_yaml


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_set_parses_values_as_yaml_and_applies_dotted_keys():
    assert parse_override("training.updates=200") == ("training.updates", 200)
    assert parse_override("training.seeds=[3, 4]") == ("training.seeds", [3, 4])
    assert parse_override("simulator.solver_function=null") == ("simulator.solver_function", None)
    assert parse_override("modality.name=WIG") == ("modality.name", "WIG")
    assert parse_override("training.learning_rate=3e-4") == ("training.learning_rate", 3e-4)
    raw = set_dotted({"training": {"steps": 5}}, "training.batch_size", 7)
    assert raw == {"training": {"steps": 5, "batch_size": 7}}
    cfg = load_run_config(overrides=["training.updates=200", "modality.name=WIG",
                                     "modality.unroll=6", "training.updates=300"])
    assert cfg.training.updates == 300  # the later override wins
    assert cfg.modality.name == "WIG" and cfg.modality.unroll == 6
    assert cfg.stages[0].modality.unroll == 6 and cfg.stages[0].updates == 300


def test_set_overrides_a_file_and_show_round_trips(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("training:\n  updates: 50\nmodality:\n  name: NOG\n")
    code, out, _ = run_cli(capsys, "config", "show", str(path), "--set", "training.updates=70")
    assert code == 0
    shown = yaml.safe_load(out)
    assert shown["training"]["updates"] == 70 and shown["modality"]["name"] == "NOG"
    assert RunConfig.model_validate(shown) == load_run_config(path, ["training.updates=70"])
    code, out, _ = run_cli(capsys, "config", "show")
    assert RunConfig.model_validate(yaml.safe_load(out)) == RunConfig()


def test_curriculum_becomes_trainer_stages():
    cfg = load_run_config(overrides=[("training.curriculum", [
        {"modality": {"name": "ONE", "unroll": 1}, "updates": 10},
        {"modality": {"name": "WIG", "unroll": 4}, "updates": 20, "learning_rate": 1e-4}])])
    stages = cfg.stages
    assert cfg.training.total_updates == 30
    assert [(s.modality.name, s.modality.unroll, s.updates) for s in stages] == \
        [("ONE", 1, 10), ("WIG", 4, 20)]
    assert stages[1].learning_rate == 1e-4
    assert RunConfig.model_validate(yaml.safe_load(to_yaml(cfg))) == cfg


BAD_SETS = [
    ("training.updatez=3", "--set training.updatez: unknown key (did you mean training.updates?)"),
    ("training.updates=abc", "training.updates"),
    ("training.updates=0", "training.updates"),
    ("modality.unroll=0", "modality.unroll"),
    ("data.extrapolation_values=[30]", "data.extrapolation_values"),
    ("training.seeds=[1, 1]", "training.seeds"),
    ("evaluation.horizon=100", "evaluation.horizon"),
    ("model.architecture=transformer", "model.architecture"),
    ("modality.cut_every=2", "cut_every"),
    ("training.checkpoint_every=150", "training.checkpoint_every"),
    ("training.updates.x=1", "training.updates"),
    ("modality.unroll=80", "modality.unroll"),
    ("system.name=null", "data.file"),
    ("system.name=heat", "system.name"),
    ("training.optimizer=lbfgs", "training.optimizer"),
    ("training", "expected KEY=VALUE"),
    ("evaluation.correlation_threshold=1.5", "evaluation.correlation_threshold"),
]


@pytest.mark.parametrize("override, message", BAD_SETS)
def test_bad_values_end_in_one_line_naming_the_key(capsys, override, message):
    code, out, err = run_cli(capsys, "config", "show", "--set", override)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("stablesim: error:"), err
    assert message in err and "Traceback" not in err


def test_wig_with_an_external_solver_is_refused_naming_the_key(capsys):
    code, _, err = run_cli(capsys, "config", "show", "--set", "simulator.setup=correction",
                           "--set", "simulator.solver=external", "--set", "modality.name=WIG")
    assert code == 2 and err.count("\n") == 1
    assert "modality.name" in err and "external" in err
    with pytest.raises(ConfigError, match="modality.name.*solver_kind is numpy"):
        load_run_config(overrides=["simulator.setup=correction", "simulator.solver_kind=numpy",
                                   "simulator.solver_function=numpy:roll", "modality.name=WIG"])
    # solver_kind auto is decided on the data, before training (tests/test_jax_solver.py)
    load_run_config(overrides=["simulator.setup=correction",
                               "simulator.solver_function=numpy:roll", "modality.name=WIG"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("training: [1, 2\n", "malformed YAML (line"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("foo: 1\n", "unknown key foo"),
        ("training:\n  updates: -5\n", "training.updates"),
        ("modality:\n  name: WIGGLE\n", "modality.name"),
    ],
)
def test_bad_files_end_in_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = run_cli(capsys, "train", str(path), "--out", str(tmp_path / "run"))
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert str(path) in err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_missing_config_and_study_files(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "r"))
    assert code == 2 and "no such config file" in err
    code, _, err = run_cli(capsys, "study", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "s"))
    assert code == 2 and "no such config file" in err


def test_study_with_a_bad_grid_key_fails_before_training(tmp_path, capsys):
    path = tmp_path / "study.yaml"
    path.write_text("grid:\n  modality.nme: [ONE, NOG]\n")
    code, _, err = run_cli(capsys, "study", str(path), "--out", str(tmp_path / "s"))
    assert code == 2 and err.count("\n") == 1 and "unknown key modality.nme" in err
    assert not (tmp_path / "s").exists()
    path.write_text("grid:\n  modality.unroll: [2, 0]\n")
    code, _, err = run_cli(capsys, "study", str(path), "--out", str(tmp_path / "s"))
    assert code == 2 and "modality.unroll" in err and "cell" in err
    path.write_text("grdi:\n  modality.name: [ONE]\n")
    code, _, err = run_cli(capsys, "study", str(path), "--out", str(tmp_path / "s"))
    assert code == 2 and "unknown key grdi" in err


def test_config_show_describes_every_key_and_parses_back(tmp_path, capsys):
    import yaml

    from stablesim.config import RunConfig, load_run_config, to_yaml

    raw = {"simulator": {"setup": "correction", "solver": "external"},
           "training": {"curriculum": [{"modality": {"name": "ONE"}, "updates": 5},
                                       {"modality": {"name": "NOG", "unroll": 3}, "updates": 7}]},
           "evaluation": {"gradient_unrolls": [1, 2]}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    code, out, _ = run_cli(capsys, "config", "show", str(path), "--set",
                           "simulator.solver_function=solver.py:step")
    assert code == 0
    shown = yaml.safe_load(out)
    expected = yaml.safe_load(to_yaml(load_run_config(path, ["simulator.solver_function="
                                                             "solver.py:step"],
                                                      check_data=False)))
    assert shown == expected
    keys = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(keys) == sum(len(type(getattr(RunConfig(), s)).model_fields)
                            for s in RunConfig.model_fields)
    assert all("  # " in line for line in keys), [k for k in keys if "  # " not in k]


@pytest.fixture
def fresh_deprecations(monkeypatch):
    from stablesim.config import _renamed

    monkeypatch.setattr(_renamed, "_told", set())


def test_old_key_names_still_read_with_one_line_each(tmp_path, capsys, fresh_deprecations):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"warmup": 30},
        "modality": {"name": "NOG", "unroll": 2, "warmup": 1},
        "training": {"steps": 40},
        "evaluation": {"steps": 20, "horizon": 5}}))
    cfg = load_run_config(path, ["evaluation.steps=24"])
    assert (cfg.data.transient, cfg.modality.pushforward, cfg.training.updates,
            cfg.evaluation.rollout_steps) == (30, 1, 40, 24)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all("please rename it" in line for line in err)
    assert any("training.steps is now training.updates" in line for line in err)
    assert any("evaluation.steps is now evaluation.rollout_steps" in line for line in err)
    load_run_config(path)  # told once per process
    assert capsys.readouterr().err == ""
    curriculum = load_run_config(overrides=[("training.curriculum", [
        {"modality": {"name": "NOG", "unroll": 2, "warmup": 1}, "steps": 7}])])
    assert curriculum.stages[0].updates == 7 and curriculum.stages[0].modality.pushforward == 1
    assert "training.curriculum[0].steps is now training.curriculum[0].updates" in \
        capsys.readouterr().err


def test_a_key_under_its_old_and_new_name_is_one_line_error(tmp_path, capsys, fresh_deprecations):
    path = tmp_path / "both.yaml"
    path.write_text("training: {steps: 40, updates: 50}\n")
    code, out, err = run_cli(capsys, "config", "show", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "training.updates" in err and "old name training.steps" in err


def test_a_section_check_names_the_dotted_key(capsys):
    code, _, err = run_cli(capsys, "config", "show", "--set", "modality.name=NOG",
                           "--set", "modality.cut_every=2")
    assert code == 2 and "--set modality.cut_every:" in err and "WIG only" in err


def test_init_from_given_with_set_resolves_against_the_working_directory(tmp_path,
                                                                         monkeypatch):
    from stablesim.config import load_run_config

    monkeypatch.chdir(tmp_path)
    config = load_run_config(None, ["model.init_from=runs/start"], check_data=False)
    assert config.model.init_from == str((tmp_path / "runs" / "start").resolve())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.yaml").write_text("model: {init_from: ../runs/start}\n")
    in_file = load_run_config(tmp_path / "sub" / "run.yaml", check_data=False)
    assert in_file.model.init_from == config.model.init_from  # the file's rule: its folder
