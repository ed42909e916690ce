"""Packaging: the version is written once (``qualevents.__version__``; pyproject reads it),
and the license pyproject declares ships as a file."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import qualevents

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_version_is_the_package_version():
    assert importlib.metadata.version("qualevents") == qualevents.__version__


def test_pyproject_takes_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "qualevents.__version__"}


def test_the_declared_license_ships_as_its_full_text():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert importlib.metadata.metadata("qualevents").get_all("License-File") == ["LICENSE"]
