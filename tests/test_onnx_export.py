"""``infomax export --format onnx``: the model runs in onnxruntime at any batch size and
gives the original encoder's embeddings to 1e-5; the printed lines are executed; a model
that differs, or missing ONNX packages, are refused in one line and leave no file."""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest
import torch

from infomax.cli import main
from infomax.eval import model_export
from infomax.runs import load_method
from test_model_export import TOL, batch, code, export

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.slow
@pytest.mark.parametrize("run", ["tiny_run", "tiny_resnet_run"])
def test_onnx_runs_in_onnxruntime_at_any_batch_size(run, request, tmp_path, capfd):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    ckpt = request.getfixturevalue(run) / "last.ckpt"
    encoder = load_method(ckpt).encoder.eval()
    out = tmp_path / "encoder.onnx"
    # The external data of a model this one replaces goes with it.
    (tmp_path / "encoder.onnx.data").write_bytes(b"weights of an earlier export")
    lines = export(ckpt, "onnx", out, capfd)
    assert lines[0].startswith(f"wrote {out}: onnxruntime reproduces the features")
    assert [p.name for p in tmp_path.iterdir()] == ["encoder.onnx"]
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (given,), (taken,) = session.get_inputs(), session.get_outputs()
    assert given.name == "images" and taken.name == "features"
    assert isinstance(given.shape[0], str) and given.shape[1:] == [1, 32, 32]
    assert taken.shape[1] == encoder.feature_dim
    meta = json.loads(session.get_modelmeta().custom_metadata_map["infomax"])
    assert meta["encoder"] == load_method(ckpt).cfg.model.encoder
    for n in (1, 7):
        x = batch(encoder, n, seed=n)
        with torch.no_grad():
            expected = encoder.embed(x).numpy()
        np.testing.assert_allclose(session.run(["features"], {"images": x.numpy()})[0],
                                   expected, **TOL)
    x = batch(encoder, 4, seed=9)
    namespace: dict = {"images": x.numpy()}
    for line in code(lines):
        exec(line, namespace)
    with torch.no_grad():
        np.testing.assert_allclose(namespace["features"], encoder.embed(x).numpy(), **TOL)


@pytest.mark.slow
def test_an_onnx_model_that_differs_is_not_written(tiny_run, tmp_path, capfd, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    real = model_export._onnx_program

    def other_weights(encoder, config):
        other = copy.deepcopy(encoder)
        with torch.no_grad():
            for p in other.parameters():
                p.add_(0.01)
        return real(other, config)

    monkeypatch.setattr(model_export, "_onnx_program", other_weights)
    out = tmp_path / "encoder.onnx"
    out.write_bytes(b"the file before")
    capfd.readouterr()
    rc = main(["export", str(tiny_run / "last.ckpt"), "--format", "onnx", "-o", str(out)])
    err = capfd.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "onnxruntime's features differ from torch's" in err and "nothing written" in err
    assert out.read_bytes() == b"the file before"
    assert [p.name for p in tmp_path.iterdir()] == ["encoder.onnx"]


@pytest.mark.slow
def test_large_weights_go_to_an_external_data_file(tiny_run, tmp_path, capfd, monkeypatch):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    monkeypatch.setattr(model_export, "ONNX_SINGLE_FILE_BYTES", 0)
    encoder = load_method(tiny_run / "last.ckpt").encoder.eval()
    out = tmp_path / "models" / "encoder.onnx"
    lines = export(tiny_run / "last.ckpt", "onnx", out, capfd)
    data = tmp_path / "models" / "encoder.onnx.data"
    assert lines[0].startswith(f"wrote {out} and {data}: onnxruntime reproduces")
    assert sorted(p.name for p in out.parent.iterdir()) == ["encoder.onnx", "encoder.onnx.data"]
    assert data.stat().st_size > out.stat().st_size
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = batch(encoder, 3)
    with torch.no_grad():
        np.testing.assert_allclose(session.run(["features"], {"images": x.numpy()})[0],
                                   encoder.embed(x).numpy(), **TOL)


@pytest.mark.parametrize("missing", ["onnxruntime", "onnx"])
def test_onnx_without_its_packages_names_the_install(tiny_run, tmp_path, capfd,
                                                     monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # import raises ImportError
    capfd.readouterr()
    rc = main(["export", str(tiny_run / "last.ckpt"), "--format", "onnx",
               "-o", str(tmp_path / "e.onnx")])
    err = capfd.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert f"needs {missing}" in err and "pip install 'infomax[export]'" in err
    assert not (tmp_path / "e.onnx").exists()
