"""Package layout only (everything else is in pyproject.toml).

The repository keeps the product's layers as top-level folders, ``engine/``, ``feeds/`` and ``tui/``;
installed, they are ``adlwatch.engine``, ``adlwatch.feeds`` and ``adlwatch.tui``, so site-packages
holds one package, ``adlwatch``, and never a bare ``engine``, ``feeds`` or ``tui``. The subpackages
(a new venue's folder included) are found here, so adding one edits nothing. Data folders
(``engine/data/…``, ``tui/data``) are namespace packages for their files.
"""

from setuptools import find_namespace_packages, setup

LAYERS = ("engine", "feeds", "tui")

found = find_namespace_packages(include=[f"{layer}*" for layer in LAYERS], exclude=["*__pycache__*"])
setup(
    packages=["adlwatch", *(f"adlwatch.{name}" for name in found)],
    package_dir={"adlwatch": "adlwatch", **{f"adlwatch.{layer}": layer for layer in LAYERS}},
)
