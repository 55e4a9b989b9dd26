"""Every setting is documented: the README's configuration table names each SENSATE_* variable.

Datasette-style: adding a field to `Settings` without a line in the README fails here, so the
docs can never fall behind the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from directory.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_variables() -> set[str]:
    return set(re.findall(r"`(SENSATE_[A-Z0-9_]+)`", README.read_text(encoding="utf-8")))


@pytest.mark.parametrize("field", [f.name for f in msgspec.structs.fields(Settings)])
def test_every_setting_is_in_the_readme(field: str) -> None:
    assert f"SENSATE_{field.upper()}" in documented_variables()


def test_the_readme_names_no_setting_that_does_not_exist() -> None:
    settings = {f"SENSATE_{f.name.upper()}" for f in msgspec.structs.fields(Settings)}
    # Variables the test suite and the NPI lookup read, not Settings fields.
    outside_settings = {
        "SENSATE_TEST_POSTGRES_URL",
        "SENSATE_TEST_MEILI_URL",
        "SENSATE_TEST_MEILI_KEY",
        "SENSATE_FIXTURES",
        "SENSATE_NPI_REGISTRY_URL",
    }
    assert documented_variables() - settings - outside_settings == set()
