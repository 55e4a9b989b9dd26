"""Hostile inputs: what a probing client sends. Written with escapes, so the file shows
exactly which code points each one holds (several look like plain digits or spaces)."""

from __future__ import annotations

# Digits that str.isdigit() accepts but int() refuses, or that int() accepts although no
# form of ours offers them: superscripts, Arabic-Indic, Tamil, full-width, mathematical, NKo.
ODD_DIGITS = [
    "\u00b2",  # superscript two
    "\u00b3",  # superscript three
    "\u00b9",  # superscript one
    "\u0663",  # Arabic-Indic three
    "\u0beb",  # Tamil five
    "\uff13",  # full-width three
    "\U0001d7d7",  # mathematical bold nine
    "\u07c1",  # NKo one
    "1\u00b2",
    "\uff11\uff10\uff10",  # full-width 100
]

NUMBERS = [
    "-1",
    "+5",
    "1_000",
    "1e3",
    "9" * 400,  # beyond any int field
    "99999999999999999999",
    "NaN",
    "Infinity",
    "0x10",
]

DATES = [
    "0001-01-01",
    "9999-12-31",
    "9999-12-01",
    "1899-12-31",
    "2026-02-30",
    "\u0662\u0660\u0662\u0666-01-01",
]

TEXT = [
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "\udfff x",
    "\u202eevil\u202c",  # right-to-left override
    "\u200f\u200e",  # RTL and LTR marks
    "\ufeff",  # byte-order mark
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%00%0a%0d",
    "\r\nX-Injected: 1",
    "' OR 1=1 --",
    '"; DROP TABLE therapists; --',
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "\u0000\u0001\u001f\u007f",
    "e\u0301" * 50,  # combining marks
    "\U0001f600" * 30,
    "x" * 100_000,  # 100 KB
]

ALL = ODD_DIGITS + NUMBERS + DATES + TEXT
