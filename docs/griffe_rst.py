"""A griffe extension for the docs build: boundlab's docstrings use a few
reStructuredText constructs (``:math:``, ``.. math::``, ``:class:`` and other
roles) that mkdocstrings' Markdown does not know. They become Markdown here:
inline and display math for arithmatex, cross-reference roles plain code.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj):"
                   r"`~?([^`]+)`")
_MATH = re.compile(r":math:`([^`]+)`")
_DISPLAY = re.compile(r"^([ \t]*)\.\. math::[ \t]*\n((?:\1[ \t]+.*\n|[ \t]*\n)+)",
                      re.M)


def _role(match: re.Match) -> str:
  target = match.group(1)
  if match.group(0).split("`")[1].startswith("~"):
    target = target.rsplit(".", 1)[-1]
  return f"`{target}`"


def _display(match: re.Match) -> str:
  indent, body = match.group(1), match.group(2)
  lines = [line.strip() for line in body.strip("\n").splitlines()]
  return f"{indent}\\[\n" + "".join(f"{indent}{line}\n" for line in lines) + (
      f"{indent}\\]\n\n")


def rst_to_markdown(text: str) -> str:
  text = _DISPLAY.sub(_display, text + "\n")
  text = _MATH.sub(lambda m: f"\\({m.group(1)}\\)", text)
  return _ROLE.sub(_role, text).rstrip("\n")


class RstToMarkdown(griffe.Extension):
  def on_instance(self, *, obj, **kwargs):
    if obj.docstring is not None:
      obj.docstring.value = rst_to_markdown(obj.docstring.value)
