"""Small helpers for the sentences the app says (no imports: every layer may use them)."""

from __future__ import annotations


def count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless n is 1: "1 layer", "12 layers", "0 heads"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
