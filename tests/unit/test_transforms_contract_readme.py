"""The README shows the analytics contract exactly as `transforms.contract.CONTRACT` defines it, so the
two cannot drift apart: when this fails, paste the block it prints into the README's Transforms section."""

from __future__ import annotations

from dataplatform.transforms.contract import CONTRACT
from tests.conftest import ROOT


def contract_markdown() -> str:
    lines = ["| table | column | type | nulls |", "|---|---|---|---|"]
    for table, schema in CONTRACT.items():
        for field in schema.fields:
            nulls = "allowed" if field.nullable else "never"
            lines.append(
                f"| `analytics.{table}` | `{field.name}` | {field.dataType.simpleString()} | {nulls} |"
            )
    return "\n".join(lines) + "\n"


def test_the_readme_shows_the_contract_as_the_code_defines_it() -> None:
    expected = contract_markdown()
    assert expected in (ROOT / "README.md").read_text(), f"README's contract block should be:\n{expected}"
