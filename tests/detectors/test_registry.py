"""Detector names ↔ classes for model files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from molood.detectors.registry import available_detectors, get_detector_class, register
from molood.exceptions import MoloodModelError


def test_builtin_sego_is_found_by_name_and_by_format1_class_name():
    cls = get_detector_class("sego")
    assert cls.__name__ == "SEGODetector" and cls.registry_name == "sego"
    assert get_detector_class("SEGODetector") is cls
    assert "sego" in available_detectors()


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(MoloodModelError, match="unknown detector 'nope'.*sego"):
        get_detector_class("nope")


def test_a_name_cannot_be_taken_twice(toy_detector_cls):
    with pytest.raises(ValueError, match="already registered"):
        @register("toy-mean")
        class Other:  # noqa: F841
            pass


def test_reading_the_registry_imports_no_torch():
    code = ("import sys; from molood.detectors.registry import available_detectors; "
            "available_detectors(); import molood.detectors.base; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
