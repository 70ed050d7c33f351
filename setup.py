"""Packaging that pyproject.toml cannot say: checklists/ ships as fieldobs.bundled_checklists."""

from setuptools import find_packages, setup

# An installed service publishes the checklists that came with it (FIELDOBS_CHECKLISTS_DIR
# overrides); in a source checkout the same package maps to the files in checklists/.
setup(
    packages=[*find_packages(include=["fieldobs*"]), "fieldobs.bundled_checklists"],
    package_dir={"fieldobs.bundled_checklists": "checklists"},
)
