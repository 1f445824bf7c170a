"""Property tests of the config parser with hypothesis: whatever text a user gives for
whatever key (on the command line as key=value, in a YAML file, or as plain data), the
result is either a valid Config or a ConfigError with a one-line message, never another
exception; and a Config that is accepted survives its own YAML round trip (config.yaml of
a run is read back on --resume; the settings of methods not selected are not saved)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import configuration as hypothesis_configuration
from hypothesis import strategies as st

from infomax.cli import main
from infomax.config import Config, config_from_dict, load_config_file, make_config, parse_override
from infomax.errors import ConfigError

from test_config import leaf_keys

# Hypothesis' caches go to the temporary folder, not into the checkout.
hypothesis_configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "infomax-hypothesis")

FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


KEYS = sorted(leaf_keys(Config())) + ["model", "data", "nope", "model.nope"]

# Pieces of YAML that reach PyYAML's tags, flow collections, anchors, YAML 1.1 scalars.
PIECES = ["!!int ", "!!float ", "!!bool ", "!!str ", "!!binary ", "!!timestamp ", "!!set ",
          "!!null ", "[", "]", "{", "}", ":", ": ", ", ", "- ", " ", "1", "-3", "0x", "1e", "e5",
          "2.5", ".inf", ".nan", "null", "yes", "~", "&a ", "*a", "'", '"', "#", "\n",
          "2024-05-01", "12:30", "imagefolder:", "bf16-mixed", "a", "?", "\t", "\x00"]
YAMLISH = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
TEXT = st.one_of(st.text(max_size=30), YAMLISH)

# Values a YAML file or a caller may hold: scalars of every type, lists and mappings.
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-2**80, 2**80) | st.floats()
    | st.text(max_size=10) | st.sampled_from(["32", "amdim", "fashion-mnist", "cpu", "jsd"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=3),
    max_leaves=6)


def check_outcome(build) -> Config | None:
    """``build()`` returns a Config or raises ConfigError with a one-line message; an
    accepted Config reads back from its own YAML unchanged."""
    try:
        cfg = build()
    except ConfigError as e:
        text = str(e)
        assert text and "\n" not in text and "\r" not in text, text
        return None
    assert isinstance(cfg, Config)
    # (to_dict leaves out the settings of methods other than cfg.method, by design.)
    assert config_from_dict(yaml.safe_load(cfg.to_yaml())).to_dict() == cfg.to_dict()
    return cfg


@FUZZ
@given(key=st.sampled_from(KEYS), text=TEXT)
@example(key="model.ndf", text="!!int abc")
@example(key="model.use_bn", text="!!bool maybe")
@example(key="optim.lr", text="!!float")
@example(key="model.ndf", text="!!timestamp")
@example(key="train.run_name", text="2024-05-01")
@example(key="data.name", text="imagefolder:")
@example(key="optim.betas", text="[" * 3000)
@example(key="train.precision", text="{1: 2}")
def test_any_text_for_any_key_gives_a_config_or_a_config_error(key, text):
    check_outcome(lambda: make_config(None, [f"{key}={text}"]))


@FUZZ
@given(text=TEXT)
@example(text="model.ndf\n=3")
@example(text="=")
def test_any_override_text_gives_a_config_or_a_config_error(text):
    check_outcome(lambda: make_config(None, [text]))
    try:
        parsed = parse_override(text)
    except ConfigError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(parsed, dict) and len(parsed) == 1


@FUZZ
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_any_value_in_data_gives_a_config_or_a_config_error(key, value):
    data: dict = {}
    node = data
    *sections, leaf = key.split(".")
    for part in sections:
        node = node.setdefault(part, {})
    node[leaf] = value
    check_outcome(lambda: config_from_dict(data))


@FUZZ
@given(data=VALUES)
def test_any_top_level_data_gives_a_config_or_a_config_error(data):
    check_outcome(lambda: config_from_dict(data))


@FUZZ
@given(text=TEXT | st.builds(lambda k, t: f"{k.replace('.', ': {')}: {t}" +
                             "}" * k.count("."), st.sampled_from(KEYS), TEXT))
@example(text="- 1\n- 2\n")
@example(text="!!int abc")
@example(text="!!timestamp")
@example(text="model: {ndf: [1, 2\n")
@example(text="[" * 3000)
def test_any_config_file_gives_a_config_or_a_config_error(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "config.yaml"
    path.write_text(text, encoding="utf-8")

    def build() -> Config:
        return make_config(None, [], base=load_config_file(path))

    check_outcome(build)


@settings(FUZZ, max_examples=25)
@given(key=st.sampled_from(KEYS), text=TEXT)
@example(key="model.ndf", text="!!int abc")
def test_infomax_config_exits_in_one_line_for_any_text(key, text):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["config", f"{key}={text}"])
    if rc == 0:
        assert err.getvalue() == "" and yaml.safe_load(out.getvalue())
    else:
        assert rc == 2 and out.getvalue() == ""
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("infomax: error: "), err.getvalue()


# The sections of a config (keys whose value is a mapping of keys), and one key of each.
SECTIONS = sorted({key.split(".")[0]: key for key in leaf_keys(Config()) if "." in key}.items())


@FUZZ
@given(section=st.sampled_from(SECTIONS), value=VALUES.filter(lambda v: not isinstance(v, dict)),
       source=st.sampled_from(["base", "file", "override"]), later=st.booleans())
def test_a_section_given_a_plain_value_is_refused_whatever_comes_after(section, value, source,
                                                                       later,
                                                                       tmp_path_factory):
    """Never replaced by the keys a later source sets in that section."""
    name, key = section
    others = [f"{key}=1"] if later else []
    if source == "override":
        text = f"{name}={json.dumps(value)}"
        build = lambda: make_config(None, [text, *others])  # noqa: E731
    elif source == "file":
        path = tmp_path_factory.mktemp("fuzz") / "config.yaml"
        path.write_text(yaml.safe_dump({name: value}), encoding="utf-8")
        build = lambda: make_config(None, others, base=load_config_file(path))  # noqa: E731
    else:
        build = lambda: make_config(None, others, base={name: value})  # noqa: E731
    try:
        build()
    except ConfigError as e:
        assert str(e).startswith(f"{name}: expected a mapping of keys like {name}."), str(e)
    else:
        raise AssertionError(f"{name}={value!r} was taken")


@FUZZ
@given(keys=st.lists(st.text("abcxyz_", min_size=1, max_size=4), min_size=1, max_size=5,
                     unique=True),
       nest=st.sampled_from(["", "train", "model"]), twice=st.data())
def test_a_key_given_twice_in_a_yaml_file_is_refused_with_both_lines(keys, nest, twice,
                                                                     tmp_path_factory):
    repeated = twice.draw(st.sampled_from(keys))
    order = [*keys, repeated]
    indent = "  " if nest else ""
    text = "".join([f"{nest}:\n"] if nest else []) + "".join(
        f"{indent}{k}: {i}\n" for i, k in enumerate(order))
    path = tmp_path_factory.mktemp("fuzz") / "twice.yaml"
    path.write_text(text, encoding="utf-8")
    first = keys.index(repeated) + 1 + bool(nest)
    second = len(order) + bool(nest)
    try:
        load_config_file(path)
    except ConfigError as e:
        assert str(e) == (f"config file {path}: the key {nest + '.' if nest else ''}{repeated} "
                          f"appears twice, at lines {first} and {second}; keep one"), str(e)
    else:
        raise AssertionError(f"{text!r} was taken")
