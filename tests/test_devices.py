"""The --device rule every command shares (infomax.devices.resolve_device)."""

from __future__ import annotations

import pytest
import torch

from infomax.devices import default_device, resolve_device
from infomax.errors import InfomaxError


def test_auto_and_none_are_the_default_device():
    assert resolve_device(None) == resolve_device("auto") == resolve_device(" AUTO ") \
        == default_device()


def test_cpu_is_taken_as_given():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("spec", ["gpu0", "cuda:99", "tpu", ""])
def test_a_device_this_machine_lacks_is_one_line_naming_the_flag(spec):
    with pytest.raises(InfomaxError) as err:
        resolve_device(spec, flag="--device")
    message = str(err.value)
    assert "\n" not in message and message.startswith("--device:") and "cpu" in message


def test_cuda_without_an_index_is_the_current_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(InfomaxError, match="cuda:0..cuda:1"):
        resolve_device("cuda:2")
