"""Ignition, Butane and cloud-init documents, checked by their ecosystems' own validators."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from evpn_boot.config.load import load_config
from evpn_boot.provision.cloudinit import cloud_config
from evpn_boot.provision.ignition import BUTANE_FOR_IGNITION, butane_document, ignition_document
from evpn_boot.provision.node import node_document
from evpn_boot.provision.params import Mode
from tests.support.units import EXAMPLES, REPO, require_tool

SCHEMAS = REPO / "tests" / "data" / "ignition"
CASES = [(e, m) for e in EXAMPLES for m in Mode]
IDS = [f"{e.stem}-{m.value}" for e, m in CASES]


def _doc(example: Path, mode: Mode):  # type: ignore[no-untyped-def]
    return node_document(load_config(example).config, example.read_text(), mode=mode)


def _decode(source: str) -> str:
    assert source.startswith("data:,")
    return urllib.parse.unquote(source[len("data:,"):])


@pytest.mark.parametrize("version", ["3.4.0", "3.3.0"])
@pytest.mark.parametrize(("example", "mode"), CASES, ids=IDS)
def test_ignition_passes_schema_and_ignition_validate(tmp_path: Path, example: Path,
                                                      mode: Mode, version: str) -> None:
    document = ignition_document(_doc(example, mode), version=version)
    schema = json.loads((SCHEMAS / f"ignition-{version}.schema.json").read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    tool = require_tool("ignition-validate", "ignition")
    if version == "3.4.0":
        # Debian's Ignition 2.14 predates 3.4.0's release and knows that spec as
        # "3.4.0-experimental"; files and units are the same in both.
        document = {**document, "ignition": {"version": "3.4.0-experimental"}}
    path = tmp_path / "config.ign"
    path.write_text(json.dumps(document))
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout   # no warnings either


def test_ignition_validate_rejects_a_broken_document(tmp_path: Path) -> None:
    """The validator above can fail."""
    tool = require_tool("ignition-validate", "ignition")
    document = ignition_document(_doc(EXAMPLES[0], Mode.CONTAINER), version="3.3.0")
    document["storage"]["files"][0]["mode"] = "0600"
    path = tmp_path / "bad.ign"
    path.write_text(json.dumps(document))
    assert subprocess.run([tool, str(path)], capture_output=True, check=False).returncode != 0
    with pytest.raises(jsonschema.ValidationError):
        schema = json.loads((SCHEMAS / "ignition-3.3.0.schema.json").read_text())
        jsonschema.Draft4Validator(schema).validate(document)


@pytest.mark.parametrize(("example", "mode"), CASES, ids=IDS)
def test_ignition_content(example: Path, mode: Mode) -> None:
    document = ignition_document(_doc(example, mode))
    files = {f["path"]: f for f in document["storage"]["files"]}
    config = files["/etc/evpn-boot/config.toml"]
    assert config["mode"] == 0o600
    assert _decode(config["contents"]["source"]) == example.read_text()
    assert "vrf" in _decode(files["/etc/modules-load.d/evpn-boot.conf"]["contents"]["source"])
    units = {u["name"]: u for u in document["systemd"]["units"]}
    assert units["evpn-boot.service"]["enabled"] is True
    assert "Type=notify" in units["evpn-boot.service"]["contents"]
    assert units["kubelet.service"]["dropins"][0]["name"] == "10-evpn-boot.conf"
    assert "contents" not in units["kubelet.service"]      # kubelet's own unit untouched
    if mode is Mode.CONTAINER:
        assert units["podman.socket"] == {"name": "podman.socket", "enabled": True}
        assert "/etc/containers/systemd/evpn-boot-frr.container" in files
        assert "--sdnotify=container" in units["evpn-boot.service"]["contents"]
    else:
        assert "enabled" not in units["evpn-boot-frr.service"]


# ------------------------------------------------------- Butane round trip

def _butane_to_ignition(butane: dict[str, Any], ignition_version: str) -> dict[str, Any]:
    """Translate the Butane subset evpn-boot emits (files with inline contents,
    units with contents/enabled/dropins), following Butane's fcos spec."""
    assert butane["variant"] == "fcos"
    assert butane["version"] == BUTANE_FOR_IGNITION[ignition_version]
    files = [{"path": f["path"], "mode": f["mode"], "overwrite": f["overwrite"],
              "contents": {"inline": f["contents"]["inline"]}}
             for f in butane["storage"]["files"]]
    return {"ignition": {"version": ignition_version}, "storage": {"files": files},
            "systemd": {"units": butane["systemd"]["units"]}}


def _comparable(ignition: dict[str, Any]) -> dict[str, Any]:
    """Ignition with data URLs decoded, so encodings do not matter."""
    files = [{**f, "contents": {"inline": _decode(f["contents"]["source"])}}
             for f in ignition["storage"]["files"]]
    return {**ignition, "storage": {"files": files}}


@pytest.mark.parametrize("version", ["3.4.0", "3.3.0"])
@pytest.mark.parametrize(("example", "mode"), CASES, ids=IDS)
def test_butane_translates_to_the_same_ignition(example: Path, mode: Mode,
                                                version: str) -> None:
    doc = _doc(example, mode)
    butane = yaml.safe_load(butane_document(doc, version=version))
    assert butane["storage"]["files"][0]["mode"] == 0o600   # YAML octal 0600
    assert _butane_to_ignition(butane, version) == _comparable(
        ignition_document(doc, version=version))


# ------------------------------------------------------------- cloud-init

@pytest.mark.parametrize(("example", "mode"), CASES, ids=IDS)
def test_cloud_config_passes_cloud_init_schema(tmp_path: Path, example: Path,
                                               mode: Mode) -> None:
    text = cloud_config(_doc(example, mode))
    assert text.startswith("#cloud-config\n")
    path = tmp_path / "user-data"
    path.write_text(text)
    tool = require_tool("cloud-init", "cloud-init")
    result = subprocess.run([tool, "schema", "--config-file", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid" in result.stdout


def test_cloud_init_schema_rejects_a_broken_document(tmp_path: Path) -> None:
    tool = require_tool("cloud-init", "cloud-init")
    text = cloud_config(_doc(EXAMPLES[0], Mode.NATIVE)).replace("permissions:", "permisions:")
    path = tmp_path / "user-data"
    path.write_text(text)
    result = subprocess.run([tool, "schema", "--config-file", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0


@pytest.mark.parametrize(("example", "mode"), CASES, ids=IDS)
def test_cloud_config_content_and_order(example: Path, mode: Mode) -> None:
    data = yaml.safe_load(cloud_config(_doc(example, mode)))
    files = {f["path"]: f for f in data["write_files"]}
    assert files["/etc/evpn-boot/config.toml"]["permissions"] == "0600"
    assert files["/etc/evpn-boot/config.toml"]["content"] == example.read_text()
    assert "After=evpn-boot.service" in files[
        "/etc/systemd/system/kubelet.service.d/10-evpn-boot.conf"]["content"]
    cmds = [" ".join(c) for c in data["runcmd"]]
    start = cmds.index("systemctl start evpn-boot.service")
    assert cmds.index("systemctl daemon-reload") < start
    assert cmds.index("systemctl restart systemd-modules-load.service") < start
    assert cmds.index("systemctl enable evpn-boot.service") < start
    assert start == len(cmds) - 1     # last: anything appended (kubeadm join) runs after READY
    if mode is Mode.CONTAINER:
        assert cmds.index("systemctl start podman.socket") < start


def test_render_cli(tmp_path: Path) -> None:
    import sys
    exe = str(Path(sys.executable).with_name("evpn-boot"))
    example = str(REPO / "examples" / "lab-l3.toml")
    out = subprocess.run([exe, "render", "ignition", "--config", example,
                          "--ignition-version", "3.3.0"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["ignition"]["version"] == "3.3.0"
    out = subprocess.run([exe, "render", "butane", "--config", example],
                         capture_output=True, text=True, check=True).stdout
    assert yaml.safe_load(out)["version"] == "1.5.0"
    bad = subprocess.run([exe, "render", "ignition", "--config", str(tmp_path / "missing")],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2


def test_cloud_config_installs_a_package_file_first(tmp_path: Path) -> None:
    """An image without evpn-boot: cloud-init installs the local .deb before the reload."""
    text = cloud_config(_doc(EXAMPLES[0], Mode.NATIVE), ("/mnt/seed/evpn-boot.deb",))
    cmds = yaml.safe_load(text)["runcmd"]
    assert cmds[0] == ["dpkg", "-i", "/mnt/seed/evpn-boot.deb"]
    assert cmds[1] == ["systemctl", "daemon-reload"]
    path = tmp_path / "user-data"
    path.write_text(text)
    tool = require_tool("cloud-init", "cloud-init")
    result = subprocess.run([tool, "schema", "--config-file", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("bad", ["evpn-boot.deb", "/srv/evpn-boot.tar.gz"])
def test_render_cloud_init_refuses_a_package_it_cannot_install(bad: str) -> None:
    import sys
    exe = str(Path(sys.executable).with_name("evpn-boot"))
    out = subprocess.run([exe, "render", "cloud-init", "--config",
                          str(REPO / "examples" / "lab-l3.toml"), "--package", bad],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2, out.stderr
    assert bad in out.stderr and out.stdout == ""
