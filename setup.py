"""Packaging beyond what pyproject.toml can say: the top-level ``assets/`` folder of the source
layout ships inside the wheel as ``qdt/assets`` (read with :func:`qdt.resources.asset`)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["qdt*"]) + ["qdt.assets"],
    package_dir={"qdt.assets": "assets"},
)
