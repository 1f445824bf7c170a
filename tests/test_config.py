"""The typed config: defaults, presets, key=value overrides, validation, YAML round trip."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from infomax.config import recipe_for
from infomax.config import (
    Config,
    config_from_dict,
    describe_keys,
    load_config_file,
    load_preset_dict,
    make_config,
    parse_override,
    preset_names,
)
from infomax.errors import ConfigError, InfomaxError

PRESETS = {  # name: (ndf, n_rkhs, n_depth, data set)
    "fmnist-tiny": (32, 256, 1, "fashion-mnist"),
    "cifar10-small": (128, 1024, 10, "cifar10"),
    "cifar10-large": (256, 2048, 10, "cifar10"),
    "cifar100-small": (128, 1024, 10, "cifar100"),
    "stl10": (192, 1536, 8, "stl10"),
    "imagenet128-small": (192, 1536, 8, "imagefolder:imagenet"),
    "imagenet128-large": (320, 2560, 10, "imagefolder:imagenet"),
    "imagenet-resnet50": (128, 1024, 3, "imagenet:imagenet"),  # the defaults: a ResNet
}


def leaf_keys(obj, prefix=""):
    """Every dotted key of a config, e.g. 'optim.lr'."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(obj, Config) and f.name == "sections":  # the methods' own sections
            for name, section in value.items():
                yield from leaf_keys(section, f"{prefix}{name}.")
            continue
        if dataclasses.is_dataclass(value):
            yield from leaf_keys(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


def error_of(overrides, preset=None) -> str:
    with pytest.raises(ConfigError) as err:
        make_config(preset, overrides)
    text = str(err.value)
    assert "\n" not in text and text
    return text


# ----------------------------------------------------------------------------- defaults, presets


def test_defaults_build_and_equal_the_dataclass_defaults():
    cfg = make_config()
    assert cfg == Config()
    assert cfg.method == "amdim" and cfg.preset is None
    assert cfg.data.name == "fashion-mnist" and cfg.data.batch_size == 200
    assert (cfg.model.ndf, cfg.model.n_rkhs, cfg.model.n_depth) == (128, 1024, 3)
    assert cfg.optim.lr == 2e-4 and cfg.optim.betas == [0.8, 0.999]
    assert cfg.optim.milestones == [250, 280] and cfg.train.precision == "32"
    assert str(cfg.run_dir) == "runs/run"
    # Mutable defaults are not shared between instances.
    a, b = Config(), Config()
    a.optim.betas.append(0.5)
    assert b.optim.betas == [0.8, 0.999]


def test_preset_names():
    assert preset_names() == sorted(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_load_with_the_spec_sizes(name):
    cfg = make_config(name)
    ndf, n_rkhs, depth, data = PRESETS[name]
    assert (cfg.model.ndf, cfg.model.n_rkhs, cfg.model.n_depth) == (ndf, n_rkhs, depth)
    assert cfg.data.name == data
    assert cfg.preset == name and cfg.run_dir.name == name
    assert load_preset_dict(name)["preset"] == name
    # Every preset is complete in itself: what it sets is valid on its own, under its
    # method's published recipe where the method has one (imagenet-resnet50: SimCLR's).
    data = load_preset_dict(name)
    recipe = recipe_for(data.get("method", "amdim"))
    if recipe is not None:
        data = {"optim": recipe.optim, "views": recipe.views, "recipe": data["method"], **data}
    assert config_from_dict(data) == cfg


def test_fmnist_tiny_reads_its_yaml_float():
    # The preset writes "lr: 1.0e-3", a YAML 1.1 float.
    assert make_config("fmnist-tiny").optim.lr == pytest.approx(1e-3)


def test_unknown_preset_names_the_valid_ones():
    text = error_of([], preset="cifar11")
    assert "cifar11" in text
    for name in PRESETS:
        assert name in text


# ----------------------------------------------------------------------------- overrides


@pytest.mark.parametrize("text, expected", [
    ("model.ndf=64", {"model": {"ndf": 64}}),
    ("optim.lr=0.5", {"optim": {"lr": 0.5}}),
    ("optim.lr=1.0e-3", {"optim": {"lr": 1e-3}}),
    ("optim.milestones=[1,2]", {"optim": {"milestones": [1, 2]}}),
    ("optim.milestones=[]", {"optim": {"milestones": []}}),
    ("train.run_name=null", {"train": {"run_name": None}}),
    ("train.run_name=", {"train": {"run_name": None}}),
    ("model.use_bn=true", {"model": {"use_bn": True}}),
    ("model.use_bn=false", {"model": {"use_bn": False}}),
    ("data.name=imagefolder:/a=b", {"data": {"name": "imagefolder:/a=b"}}),
    ("train.run_name=x y", {"train": {"run_name": "x y"}}),
    ("method=amdim", {"method": "amdim"}),
])
def test_parse_override_reads_yaml_values(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text, value", [
    ("optim.lr=1e-3", 1e-3),  # YAML 1.1 reads this as the string "1e-3"
    ("optim.lr=1E-3", 1e-3),
    ("optim.lr=1.0e-3", 1e-3),
    ("optim.lr=1.0e3", 1000.0),  # another YAML 1.1 string (no exponent sign)
    ("optim.lr=5e-4", 5e-4),
    ("optim.lr=2", 2.0),
    ("optim.lr=.25", 0.25),
    ("optim.lr=+3e-4", 3e-4),
])
def test_float_overrides_in_every_spelling(text, value):
    cfg = make_config(None, [text])
    assert isinstance(cfg.optim.lr, float) and cfg.optim.lr == pytest.approx(value, rel=1e-12)


def test_floats_in_lists_and_files_in_exponent_notation(tmp_path):
    cfg = make_config(None, ["optim.betas=[9e-1, 0.99]"])
    assert cfg.optim.betas == [0.9, 0.99]
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 3e-4\n  eps: 1e-6\n")
    cfg = config_from_dict(load_config_file(path))
    assert (cfg.optim.lr, cfg.optim.eps) == (3e-4, 1e-6)


def test_a_number_looking_string_stays_a_string_for_string_keys():
    assert make_config(None, ["train.run_name=1e-3"]).train.run_name == "1e-3"
    assert make_config(None, ["train.precision=32"]).train.precision == "32"
    # YAML reads these as a date and as a one-key mapping; string keys keep the text.
    assert make_config(None, ["train.run_name=2024-05-01"]).train.run_name == "2024-05-01"
    assert parse_override("data.name=imagefolder:") == {"data": {"name": "imagefolder:"}}
    assert parse_override("model={ndf: 3}") == {"model": {"ndf": 3}}


def test_data_name_is_checked_when_the_config_is_built():
    assert make_config(None, ["data.name=FMNIST"]).data.name == "FMNIST"  # a known spelling
    assert make_config(None, ["data.name=imagefolder:/nowhere"]).data.name == "imagefolder:/nowhere"
    text = error_of(["data.name=imagenette"])
    assert text.startswith("data.name: unknown data set 'imagenette'; valid names: ")
    for name in ("fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "imagefolder:<path>"):
        assert name in text
    assert "names no path" in error_of(["data.name=imagefolder:"])


def test_overrides_apply_in_order_on_top_of_the_preset():
    cfg = make_config("cifar10-small", ["model.ndf=64", "train.epochs=3", "model.ndf=96",
                                        "optim.milestones=[1, 2]"])
    assert cfg.model.ndf == 96 and cfg.model.n_rkhs == 1024 and cfg.model.n_depth == 10
    assert cfg.train.epochs == 3 and cfg.optim.milestones == [1, 2]
    assert cfg.data.name == "cifar10" and cfg.preset == "cifar10-small"


def test_override_needs_key_and_equals():
    for text in ("model.ndf", "=3", "model..ndf=3", ".ndf=3"):
        with pytest.raises(ConfigError) as err:
            parse_override(text)
        assert text in str(err.value)


# ----------------------------------------------------------------------------- refusals


def test_unknown_top_level_key_names_the_valid_keys():
    text = error_of(["modle.ndf=3"])
    assert "'modle'" in text and "top level" in text
    for key in ("method", "preset", "data", "model", "loss", "optim", "train", "probe"):
        assert key in text


def test_unknown_nested_key_names_the_valid_keys_of_its_section():
    text = error_of(["model.width=3"])
    assert "'model.width'" in text
    for key in ("ndf", "n_rkhs", "n_depth", "use_bn"):
        assert key in text
    assert "batch_size" not in text  # only the keys of the section
    text = error_of(["optim.lr.x=1"])
    assert "optim.lr" in text


@pytest.mark.parametrize("override, words", [
    ("data.batch_size=-4", ["data.batch_size", "-4", ">= 2"]),
    ("data.batch_size=1", ["data.batch_size", "1", ">= 2"]),
    ("data.batch_size=2.5", ["data.batch_size", "2.5", "integer"]),
    ("data.batch_size=true", ["data.batch_size", "True", "integer"]),
    ("data.batch_size=null", ["data.batch_size", "None"]),
    ("train.epochs=0", ["train.epochs", "0", ">= 1"]),
    ("train.epochs=ten", ["train.epochs", "ten"]),
    ("train.precision=64", ["train.precision", "64", "bf16-mixed", "16-mixed"]),
    ("train.accelerator=tpu", ["train.accelerator", "tpu", "cuda"]),
    ("data.augment=heavy", ["data.augment", "heavy", "strong"]),
    ("method=nosuch", ["method", "nosuch", "amdim", "byol", "swav"]),
    ("model.use_bn=maybe", ["model.use_bn", "maybe", "true or false"]),
    ("model.use_bn=1", ["model.use_bn", "1", "true or false"]),
    ("optim.lr=fast", ["optim.lr", "fast", "a number >= 0.0"]),
    ("model.ndf=wide", ["model.ndf", "wide", "an integer >= 1"]),
    ("train.precision=[32]", ["train.precision", "[32]", "one of 32, bf16-mixed, 16-mixed"]),
    ("optim.lr=-1e-3", ["optim.lr", "-0.001", ">= 0"]),
    ("optim.lr=.nan", ["optim.lr", "nan", "finite"]),
    ("optim.lr=.inf", ["optim.lr", "inf", "finite"]),
    ("optim.betas=[0.9]", ["optim.betas", "0.9", "two numbers"]),
    ("optim.betas=[0.9, 1.0]", ["optim.betas", "1.0", "[0, 1)"]),
    ("optim.betas=0.9", ["optim.betas", "0.9", "list"]),
    ("optim.milestones=[1,", ["optim.milestones", "[1,", "list"]),
    ("optim.milestones=[1, x]", ["optim.milestones[1]", "x", "integer"]),
    ("optim.milestones=[5, 3]", ["optim.milestones", "[5, 3]", "increasing"]),
    ("optim.milestones=[0, 3]", ["optim.milestones", "[0, 3]", ">= 1"]),
    ("probe.milestones=[20, 10]", ["probe.milestones", "[20, 10]", "increasing"]),
    ("train.seed=-1", ["train.seed", "-1"]),
    ("train.seed=4294967296", ["train.seed", "4294967296"]),
    ("data.pretrain_subset=1", ["data.pretrain_subset", "1", ">= 2"]),
    ("data=5", ["data", "5", "mapping"]),
    ("train.devices=0", ["train.devices", "0", ">= 1"]),
])
def test_bad_values_name_key_and_value(override, words):
    text = error_of([override])
    for word in words:
        assert word in text, (word, text)


def test_good_edge_values_are_accepted():
    cfg = make_config(None, ["data.batch_size=2", "train.seed=4294967295", "train.seed=0",
                             "optim.milestones=[1]", "loss.tclip=0", "optim.lr=0",
                             "data.pretrain_subset=null", "train.max_minutes=0.5"])
    assert cfg.data.batch_size == 2 and cfg.train.seed == 0 and cfg.loss.tclip == 0.0
    assert cfg.train.max_minutes == 0.5 and isinstance(cfg.optim.lr, float)


def test_config_errors_are_infomax_errors():
    assert issubclass(ConfigError, InfomaxError)


def test_config_from_dict_refuses_non_mappings():
    with pytest.raises(ConfigError, match="config: expected a mapping"):
        config_from_dict([1, 2])
    with pytest.raises(ConfigError, match="model: expected a mapping"):
        config_from_dict({"model": [1]})


# ----------------------------------------------------------------------------- files


def test_yaml_round_trip(tmp_path):
    cfg = make_config("stl10", ["optim.lr=1e-3", "train.max_minutes=2.5", "model.use_bn=true",
                                "data.val_subset=100", "train.run_name=x"])
    path = tmp_path / "config.yaml"
    cfg.save(path)
    back = config_from_dict(load_config_file(path))
    assert back == cfg
    assert back.to_yaml() == cfg.to_yaml()
    assert yaml.safe_load(cfg.to_yaml()) == cfg.to_dict()
    # and as the base of make_config, the way --config uses it
    assert make_config(None, [], base=load_config_file(path)) == cfg


def test_round_trip_of_every_preset():
    for name in PRESETS:
        cfg = make_config(name)
        assert config_from_dict(yaml.safe_load(cfg.to_yaml())) == cfg


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {ndf: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(bad)
    assert str(bad) in str(err.value) and "YAML" in str(err.value)
    assert "\n" not in str(err.value)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config_file(binary)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config_file(tmp_path)  # a folder
    for text in ("", "  \n\n", "# only a comment\n", "null\n", "---\n"):
        empty = tmp_path / "empty.yaml"
        empty.write_text(text)
        with pytest.raises(ConfigError) as empty_err:
            load_config_file(empty)
        assert str(empty_err.value) == (f"config file {empty} is empty; write the keys to set, "
                                        f"like 'model: {{ndf: 64}}' ('{{}}' for the library's "
                                        f"defaults)")
    empty.write_text("{}\n")  # an explicit empty mapping: the defaults, asked for
    assert config_from_dict(load_config_file(empty)) == Config()
    assert "at line 2, column 1" in str(err.value)
    for text, kind in (("- 1\n- 2\n", "list [1, 2]"), ("just text\n", "str 'just text'")):
        other = tmp_path / "other.yaml"
        other.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_config_file(other)
        assert str(err.value) == (f"config file {other} holds {kind}, not a mapping of keys "
                                  f"like 'model: {{ndf: 64}}'")


# ----------------------------------------------------------------------------- describe_keys


def test_describe_keys_lists_every_key_with_its_default():
    text = describe_keys()
    lines = text.splitlines()
    described = [line.split(" = ")[0] for line in lines]
    assert described == list(leaf_keys(Config()))
    assert len(described) == len(set(described))
    defaults = Config()
    for line in lines:
        key, rest = line.split(" = ", 1)
        obj = defaults
        for part in key.split("."):
            obj = getattr(obj, part)
        assert rest.split("  # ")[0] == repr(obj), line
    assert any(line.split("  # ")[0] == "optim.lr = 0.0002" for line in lines)
    assert any(line.startswith("train.precision = '32'") and "bf16-mixed" in line for line in lines)


# ----------------------------------------------------------------------------- sections and keys


@pytest.mark.parametrize("value, text, shown", [(5, "5", "5"), ([1, 2], "[1, 2]", "[1, 2]"),
                                                ("fast", "fast", "'fast'"),
                                                (None, "null", "None"), (True, "true", "True")])
def test_a_section_given_a_plain_value_is_refused_from_any_source(value, text, shown, tmp_path):
    """Not replaced by the keys another source sets in that section (a 2-epoch preset
    trained 300 epochs after 'train=5 --seed 1')."""
    expected = f"train: expected a mapping of keys like train.epochs=300, got {shown}"
    override = f"train={text}"
    assert error_of([override, "train.seed=1"], preset="fmnist-tiny") == expected
    assert error_of([override]) == expected
    path = tmp_path / "c.yaml"
    path.write_text(f"train: {text}\n")
    for overrides in ([], ["train.seed=1"]):
        with pytest.raises(ConfigError) as err:
            make_config(None, overrides, base=load_config_file(path))
        assert str(err.value) == expected
    with pytest.raises(ConfigError) as err:
        make_config("fmnist-tiny", ["train.seed=1"], base={"train": value})
    assert str(err.value) == expected
    with pytest.raises(ConfigError) as err:
        config_from_dict({"train": value})
    assert str(err.value) == expected


def test_a_method_section_given_a_plain_value_is_refused():
    assert error_of(["moco=3", "moco.queue_size=64"]) == (
        "moco: expected a mapping of keys like moco.version=v2, got 3")
    assert error_of(["model=[1]"]) == ("model: expected a mapping of keys like "
                                       "model.encoder=amdim, got [1]")


def test_a_preset_giving_a_section_a_plain_value_is_refused(tmp_path, monkeypatch):
    import infomax.config as config

    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "flat.yaml").write_text("train: 2\ndata: {batch_size: 8}\n")
    monkeypatch.setattr(config.resources, "files", lambda package: tmp_path)
    with pytest.raises(ConfigError) as err:
        make_config("flat", ["train.seed=1"])
    assert str(err.value) == "train: expected a mapping of keys like train.epochs=300, got 2"


def test_a_mapping_for_a_plain_key_keeps_its_error():
    assert error_of(["train.epochs={a: 1}"], preset="fmnist-tiny") == (
        "train.epochs: expected an integer >= 1, got {'a': 1}")
    assert error_of(["train.epochs.x=3"], preset="fmnist-tiny") == (
        "train.epochs: expected an integer >= 1, got {'x': 3}")
    assert error_of(["method={a: 1}"]).startswith("method: expected one of amdim")


def test_sections_merge_key_by_key_as_before(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: {epochs: 2, seed: 3}\nmodel: {ndf: 16}\n")
    cfg = make_config("fmnist-tiny", ["train.seed=1"], base=load_config_file(path))
    assert (cfg.train.epochs, cfg.train.seed, cfg.model.ndf) == (2, 1, 32)  # the preset's ndf
    cfg = make_config(None, ["train.seed=1"], base=load_config_file(path))
    assert (cfg.train.epochs, cfg.train.seed, cfg.model.ndf) == (2, 1, 16)


# ----------------------------------------------------------------------------- duplicate keys


@pytest.mark.parametrize("text, key, lines", [
    ("train:\n  epochs: 2\n  seed: 1\n  epochs: 300\n", "train.epochs", (2, 4)),
    ("train: {epochs: 2}\nmodel: {ndf: 8}\ntrain: {seed: 1}\n", "train", (1, 3)),
    ("optim: {betas: [0.5, 0.9], lr: 0.1, lr: 0.2}\n", "optim.lr", (1, 1)),
    ("model:\n  ndf: 8\n  0x10: a\n  16: b\n", "model.16", (3, 4)),  # the same key, 16
    ("- {a: 1}\n- {b: 1, b: 2}\n", "[1].b", (2, 2)),
])
def test_a_config_file_holding_a_key_twice_is_refused(tmp_path, text, key, lines):
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value) == (f"config file {path}: the key {key} appears twice, at lines "
                              f"{lines[0]} and {lines[1]}; keep one")


def test_yaml_merges_and_anchors_still_load(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("optim: &o {lr: 0.1, gamma: 0.5}\nprobe:\n  <<: *o\n  lr: 0.01\n"
                    "train: {max_minutes: 1e1, run_name: 2024-05-01}\n")
    data = load_config_file(path)
    assert data["probe"] == {"lr": 0.01, "gamma": 0.5}
    assert data["train"] == yaml.safe_load(path.read_text())["train"]  # YAML 1.1, as before
    cfg = config_from_dict(data)
    assert (cfg.probe.lr, cfg.probe.gamma, cfg.train.run_name) == (0.01, 0.5, "2024-05-01")
    assert cfg.train.max_minutes == 10.0  # '1e1', a string to YAML 1.1: _NUMBER, as before
    assert error_of(["train.epochs=1e1"]) == "train.epochs: expected an integer >= 1, got '1e1'"
    assert make_config(None, ["optim.lr=1e-3"]).optim.lr == 1e-3  # _NUMBER, as before


def test_a_preset_holding_a_key_twice_is_refused(tmp_path, monkeypatch):
    import infomax.config as config

    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "twice.yaml").write_text("train:\n  epochs: 2\n  epochs: 3\n")
    monkeypatch.setattr(config.resources, "files", lambda package: tmp_path)
    with pytest.raises(ConfigError) as err:
        load_preset_dict("twice")
    assert str(err.value) == (f"preset file {tmp_path / 'presets' / 'twice.yaml'}: the key "
                              f"train.epochs appears twice, at lines 2 and 3; keep one")
