from __future__ import annotations

import re

import pytest

from hwnas.devices import DeviceRegistry, load_device_file
from hwnas.errors import DeviceError

SHIPPED = {
    "raspi4",
    "pixel3",
    "eyeriss",
    "fpga",
    "edgegpu",
    "edgetpu",
    "pi5-onnx",
    "pi5-litert",
    "pi5-torchmobile",
    "pixel-litert",
    "local-ort",
    "local-tvm",
}


def test_shipped_devices_load():
    registry = DeviceRegistry()
    assert set(registry.names()) >= SHIPPED
    raspi4 = registry.get("raspi4")
    assert raspi4.tables_for("cifar10")[0].metric == "raspi4_latency"
    assert registry.get("edgegpu").requires
    assert registry.get("local-ort").is_live and registry.get("local-ort").options["threads"] == 1


def test_unknown_device_lists_known_ones():
    with pytest.raises(DeviceError, match=r"unknown device 'raspi9'; known devices: .*raspi4"):
        DeviceRegistry().get("raspi9")


def test_user_folder_adds_and_overrides(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text(
        'name = "myboard"\n[latency]\nsource = "table"\n'
        '[[latency.tables]]\ntable = "my-table"\nmetric = "latency_ms"\ndataset = "cifar10"\n'
    )
    monkeypatch.setenv("HWNAS_DEVICES_DIR", str(tmp_path))
    registry = DeviceRegistry()
    assert registry.get("myboard").tables[0].table == "my-table"
    assert "raspi4" in registry.names()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name = 'x'\n", "missing latency"),
        ("name = 'x'\n[latency]\nsource = 'magic'\n", "latency.source is 'magic'"),
        ("name = 'x'\n[latency]\nsource = 'live'\n", "needs latency.backend"),
        ("name = 'x'\n[latency]\nsource = 'table'\n", "at least one [[latency.tables]]"),
        ("name = \n", "invalid TOML"),
    ],
)
def test_bad_device_files_say_what_is_wrong(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DeviceError) as info:
        load_device_file(path)
    assert needle in str(info.value) and "bad.toml" in str(info.value)


def test_a_user_file_may_not_stand_in_for_a_shipped_device(tmp_path, monkeypatch):
    (tmp_path / "raspi4.toml").write_text(
        'name = "raspi4"\n[latency]\nsource = "table"\n'
        '[[latency.tables]]\ntable = "my-table"\nmetric = "latency_ms"\ndataset = "cifar10"\n'
    )
    monkeypatch.setenv("HWNAS_DEVICES_DIR", str(tmp_path))
    with pytest.raises(DeviceError, match=r"both describe device 'raspi4'; give yours another name"):
        DeviceRegistry()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name = 5\n[latency]\nsource = 'live'\nbackend = 'onnxruntime'\n", "name must be a string, got 5"),
        ("name = '../x'\n[latency]\nsource = 'live'\nbackend = 'onnxruntime'\n", "must be a plain name"),
        ("name = 'x'\ntitle = 3\n[latency]\nsource = 'live'\nbackend = 'onnxruntime'\n", "title must be a string"),
        ("name = 'x'\n[latency]\nsource = 'live'\nbackend = 'onnxruntime'\noptions = 3\n", "latency.options"),
        ("name = 'x'\n[latency]\nsource = 'table'\n[[latency.tables]]\ntable = 1\nmetric = 'm'\ndataset = 'd'\n",
         "latency.tables[0].table must be a string"),
    ],
)
def test_device_fields_of_the_wrong_type_are_refused(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DeviceError, match=re.escape(needle)):
        load_device_file(path)


def test_a_backend_option_of_the_wrong_type_is_refused(tmp_path, monkeypatch):
    from hwnas.profiling.profile import device_backend

    (tmp_path / "many.toml").write_text(
        "name = 'many-threads'\n[latency]\nsource = 'live'\nbackend = 'onnxruntime'\n"
        "[latency.options]\nthreads = 'many'\n"
    )
    monkeypatch.setenv("HWNAS_DEVICES_DIR", str(tmp_path))
    with pytest.raises(DeviceError, match="option threads must be int"):
        device_backend(DeviceRegistry().get("many-threads"))
