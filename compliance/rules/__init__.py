"""The template rule engine (pure Python): `check(CheckInput(...)) -> list[Finding]`."""

from compliance.rules.engine import BLOCK, RULES, WARN, CheckInput, Finding, Fix, check, has_blocks

__all__ = ["BLOCK", "RULES", "WARN", "CheckInput", "Finding", "Fix", "check", "has_blocks"]
