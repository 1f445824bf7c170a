"""JPEG decoding: torchvision.io.decode_jpeg gives exactly Pillow's pixels (baseline,
progressive, grayscale, CMYK, every chroma subsampling, odd sizes), which is why image
files and shards decode JPEGs with it by default; anything it cannot decode goes to Pillow
(same pixels, same errors); and ``infomax bench loader --data ... --decoders ...``."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from infomax.cli import main
from infomax.data import registry
from infomax.data.registry import decode_rgb, load_rgb
from infomax.errors import BadImageError

RNG = np.random.default_rng(5)


def pillow_pixels(data: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as im:
        return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)


def encode(mode: str, h: int, w: int, smooth: bool, **kwargs) -> bytes:
    channels = {"RGB": 3, "L": 1, "CMYK": 4}[mode]
    if smooth:
        y, x = np.mgrid[0:h, 0:w]
        base = 128 + 90 * np.sin(x / 7.0 + y / 11.0)[..., None] * np.linspace(0.5, 1, channels)
        array = np.clip(base + RNG.normal(0, 6, (h, w, channels)), 0, 255).astype(np.uint8)
    else:
        array = RNG.integers(0, 256, (h, w, channels), dtype=np.uint8)
    image = (Image.frombytes("CMYK", (w, h), array.tobytes()) if mode == "CMYK"
             else Image.fromarray(array[..., 0] if mode == "L" else array))
    buf = io.BytesIO()
    image.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


KINDS = {
    "baseline": dict(quality=90),
    "progressive": dict(quality=75, progressive=True),
    "4:4:4": dict(quality=95, subsampling=0),
    "4:2:2": dict(quality=80, subsampling=1),
    "restart-markers": dict(quality=85, restart_marker_blocks=1),
}


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
@pytest.mark.parametrize("kind", KINDS)
def test_torchvision_decodes_jpegs_to_pillows_pixels_exactly(mode, kind):
    for (h, w), smooth in (((1, 1), False), ((17, 33), False), ((120, 97), True)):
        data = encode(mode, h, w, smooth, **KINDS[kind])
        with Image.open(io.BytesIO(data)) as im:
            assert im.mode == mode and im.format == "JPEG"
        expected = pillow_pixels(data)
        ours = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                           mode=ImageReadMode.RGB)
        assert ours.shape == expected.shape == (3, h, w)
        assert torch.equal(ours, expected), (mode, kind, h, w)
        assert torch.equal(decode_rgb(data, "torchvision"), expected)
        assert torch.equal(decode_rgb(data, "pillow"), expected)


def test_jpeg_files_go_to_torchvision_and_everything_else_to_pillow(tmp_path, monkeypatch):
    assert registry.JPEG_DECODER == "torchvision"
    calls = []
    real = registry._torchvision_jpeg

    def counting(data):
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(registry, "_torchvision_jpeg", counting)
    data = encode("RGB", 20, 30, True, quality=90)
    (tmp_path / "a.jpg").write_bytes(data)
    Image.fromarray(RNG.integers(0, 256, (5, 6, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    (tmp_path / "c.JPEG").write_bytes(data)
    assert torch.equal(load_rgb(tmp_path / "a.jpg"), pillow_pixels(data)) and len(calls) == 1
    load_rgb(tmp_path / "b.png")
    assert len(calls) == 1  # PNG: Pillow, the file read once
    load_rgb(tmp_path / "c.JPEG")
    assert len(calls) == 2
    assert torch.equal(load_rgb(tmp_path / "a.jpg", "pillow"), pillow_pixels(data))
    assert len(calls) == 2
    # a PNG named .jpg (not JPEG bytes): Pillow, without a try by torchvision
    (tmp_path / "png.jpg").write_bytes((tmp_path / "b.png").read_bytes())
    assert torch.equal(load_rgb(tmp_path / "png.jpg"), load_rgb(tmp_path / "b.png"))
    assert len(calls) == 2
    with pytest.raises(ValueError):
        decode_rgb(data, "nvjpeg")
    # a torchvision without image decoding (deprecated since 0.29): Pillow, same pixels
    monkeypatch.setattr(registry, "_TORCHVISION", False)
    assert torch.equal(load_rgb(tmp_path / "a.jpg"), pillow_pixels(data))


def test_a_jpeg_torchvision_refuses_is_pillows_to_report(tmp_path):
    data = encode("RGB", 40, 40, False, quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImageError) as default:
        load_rgb(path)
    with pytest.raises(BadImageError) as pil:
        load_rgb(path, "pillow")
    assert str(default.value) == str(pil.value)
    assert "image file is truncated" in str(default.value) and "decode_jpeg" not in str(
        default.value)


def test_bench_loader_compares_the_decoders(tmp_path, capsys):
    folder = tmp_path / "jpegs"
    folder.mkdir()
    for i in range(12):
        (folder / f"{i}.jpg").write_bytes(encode("RGB", 30 + i, 40, True, quality=90))
    Image.fromarray(RNG.integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(folder / "x.png")
    out = tmp_path / "bench.json"
    assert main(["bench", "loader", "--data", str(folder), "--image-size", "64", "40",
                 "--workers", "0", "--batches", "1", "--repeats", "1", "--batch-size", "4",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["images"] == 13 and result["jpeg_images"] == 12
    assert {r["decoder"] for r in result["decode_only"]} >= {"pillow", "torchvision", "shards"}
    assert {(r["decoder"], r["image_size"]) for r in result["loader"]} == {
        (d, s) for d in ("pillow", "torchvision", "shards") for s in (64, 40)}
    assert result["views"] == {"64": "AMDIM (TwoViews)", "40": pytest.approx(
        result["views"]["40"])} and result["views"]["40"].startswith("ResNet")
    assert result["machine"]["cpu"] and result["machine"]["torch"] and result["machine"]["date"]
    assert "torchvision.io (cpu)" in table and "shards (torchvision)" in table
    assert main(["bench", "loader", "--decoders", "pillow"]) == 2
    assert "--data" in capsys.readouterr().err
