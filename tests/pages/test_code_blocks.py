"""Every line of code a page shows can be pasted into Python (issue 28, item 1): each code
block of every page, and of the audit page for every in-code example, goes through
``ast.parse``. Before the fix the audit printed ``self.main.3 = nn.Sequential(`` for the
DCGAN generator (a SyntaxError)."""

from __future__ import annotations

import ast

import pytest

from core.audit.examples import EXAMPLES
from tests.conftest import assert_clean, open_page
from ui.audit import attribute_target
from ui.common import available_pages

CASES = ([(p.path, {}) for p in available_pages()]
         + [("pages/audit.py", {"example": name}) for name in EXAMPLES]
         + [("pages/story.py", {"step": "3"})])


@pytest.mark.parametrize("page,query", CASES,
                         ids=[f"{p.split('/')[-1][:-3]}-{'-'.join(q.values()) or 'default'}"
                              for p, q in CASES])
def test_every_code_block_parses(page, query):
    at = open_page(page, query, timeout=300)
    assert_clean(at)
    for block in at.code:
        if block.language == "python":
            ast.parse(block.value)  # a SyntaxError names the line


def test_dcgan_fix_assigns_to_the_sequential_item():
    at = open_page("pages/audit.py", {"example": "dcgan"}, timeout=300)
    assert any("self.main[" in c.value for c in at.code), [c.value[:200] for c in at.code]


@pytest.mark.parametrize("path,target", [
    ("up1.deconv", "self.up1.deconv"), ("main.3", "self.main[3]"),
    ("blocks.0.up", "self.blocks[0].up"), ("a-b.c", None), ("class.x", None), ("٣", None),
])
def test_attribute_target(path, target):
    assert attribute_target(path) == target
    if target:
        ast.parse(f"{target} = 1")
