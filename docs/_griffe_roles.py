"""A griffe extension for the API reference: reStructuredText idioms shown as Markdown.

gopool's docstrings cross-reference with Sphinx roles (``:func:`after```,
``:class:`~gopool.chan.Chan```) and introduce literal blocks with ``::``.
mkdocstrings renders docstrings as Markdown, where both would show as raw
text: each role becomes an inline code span of the name (its last part
for a ``~`` target), and a line-ending ``::`` a single colon (the
indented block after it is a code block in Markdown already).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)


def _code(m: re.Match[str]) -> str:
    target = m.group(2)
    return f"`{target.rsplit('.', 1)[-1] if m.group(1) else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring's Sphinx roles as inline code when griffe loads an object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _ROLE.sub(_code, obj.docstring.value)
            obj.docstring.value = _LITERAL.sub(":", text)
