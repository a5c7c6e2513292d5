"""The wheel carries model/ and resources/, and an installed (non-editable) copy finds them."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESKTOP_ID = "io.github.irt_desktop.IrtDesktop"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
    )
    (found,) = out.glob("irt_desktop-*.whl")
    return found


def test_wheel_contains_model_data_and_resources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "irt_desktop/_data/model/cards/deit-s.toml",
        "irt_desktop/_data/model/cards/deit-s-distilled.toml",
        "irt_desktop/_data/model/cards/deit-b.toml",
        "irt_desktop/_data/resources/icons/irt-desktop.svg",
        "irt_desktop/_data/resources/icons/hicolor/512x512/apps/irt-desktop.png",
        f"irt_desktop/_data/resources/desktop/{DESKTOP_ID}.desktop",
        f"irt_desktop/_data/resources/desktop/{DESKTOP_ID}.metainfo.xml",
    ):
        assert required in names, required
    shipped = {
        p.relative_to(ROOT).as_posix()
        for d in ("model", "resources")
        for p in (ROOT / d).rglob("*")
        if p.is_file()
    }
    in_wheel = {n.removeprefix("irt_desktop/_data/") for n in names if n.startswith("irt_desktop/_data/")}
    assert shipped <= in_wheel, sorted(shipped - in_wheel)


def test_installed_copy_loads_its_data_through_importlib_resources(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
    )
    probe = textwrap.dedent(
        """
        import json, irt_desktop
        from irt_desktop.resources import data_path
        from irt_desktop.retrieval.card import shipped_cards
        cards = shipped_cards()
        print(json.dumps({
            "package": irt_desktop.__file__,
            "cards_dir": str(data_path("model", "cards")),
            "cards": sorted(cards),
            "icon_bytes": data_path("resources", "icons", "irt-desktop.svg").stat().st_size,
        }))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    # Run from a neutral folder so the source checkout is not on sys.path.
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    import json

    info = json.loads(out.stdout)
    assert Path(info["package"]).is_relative_to(site)
    assert Path(info["cards_dir"]).is_relative_to(site)
    assert info["cards"] == ["deit-b", "deit-b-distilled-384", "deit-s", "deit-s-distilled", "dinov2-s"]
    assert info["icon_bytes"] > 100


def test_desktop_file_declares_image_types_and_passes_files():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(ROOT / "resources" / "desktop" / f"{DESKTOP_ID}.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split() == ["irt-desktop", "%F"]
    mimes = set(filter(None, entry["MimeType"].split(";")))
    assert {"image/jpeg", "image/png", "image/heic", "image/webp"} <= mimes
    assert entry["Icon"] == "irt-desktop"
    assert all(v.endswith(";") for k, v in entry.items() if k in ("MimeType", "Categories", "Keywords"))


def test_appstream_metainfo_matches_desktop_file():
    tree = ET.parse(ROOT / "resources" / "desktop" / f"{DESKTOP_ID}.metainfo.xml")
    root = tree.getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == DESKTOP_ID
    assert root.find("launchable").text == f"{DESKTOP_ID}.desktop"
    assert root.findtext("provides/binary") == "irt-desktop"


def test_icon_pngs_have_their_nominal_sizes():
    from PIL import Image

    sizes = []
    for png in (ROOT / "resources" / "icons" / "hicolor").glob("*/apps/irt-desktop.png"):
        with Image.open(png) as im:
            w, h = im.size
            assert png.parent.parent.name == f"{w}x{h}"
            assert im.mode == "RGBA"
            sizes.append(w)
    assert sorted(sizes) == [16, 24, 32, 48, 64, 128, 256, 512]


def test_linux_install_script_installs_and_removes_the_desktop_integration(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "irt-desktop").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "irt-desktop").chmod(0o755)
    data = tmp_path / "share"
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(data),
        "HOME": str(tmp_path),
        "PATH": f"{fake_bin}:/usr/bin:/bin",
    }
    env.pop("PREFIX", None)
    script = ROOT / "packaging" / "linux" / "install.sh"
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True)
    installed = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    assert f"applications/{DESKTOP_ID}.desktop" in installed
    assert f"metainfo/{DESKTOP_ID}.metainfo.xml" in installed
    assert "icons/hicolor/scalable/apps/irt-desktop.svg" in installed
    assert {f"icons/hicolor/{s}x{s}/apps/irt-desktop.png" for s in (16, 48, 256, 512)} <= installed
    subprocess.run(["bash", str(script), "--uninstall"], env=env, check=True, capture_output=True)
    left = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    assert not any("irt" in name.lower() for name in left), left
