"""Papers and citations: where a statement is made, precisely enough to check it."""

from __future__ import annotations

import dataclasses
import re

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Citation:
  """A location in a paper.

  Attributes:
    arxiv: arXiv identifier, e.g. ``"2006.15429"``.
    version: arXiv version the location refers to, e.g. ``"v2"``.
    where: theorem / lemma / equation / section, e.g. ``"Theorem 3.7"``.
    verified: whether the statement *and its constants* were checked against
      the paper text or the authors' code. ``False`` is shown in every report.
    note: what was checked, what was derived, what remains uncertain, with the
      shared references' tags ([V] checked, [R] recalled, [D] derived, [U]
      uncertain).
  """

  arxiv: str
  version: str
  where: str
  verified: bool
  note: str = ""

  def short(self) -> str:
    return f"arXiv {self.arxiv}, {self.where} ({self.version})"

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Paper:
  """A source paper.

  Attributes:
    key: short id used in claim ids and ``boundlab repro`` (e.g. ``chen2020``).
    title, authors, venue: bibliographic data.
    arxiv: arXiv id; version: the version our citations refer to.
  """

  key: str
  title: str
  authors: str
  arxiv: str
  version: str
  venue: str = ""

  def __post_init__(self):
    if not _KEY.match(self.key):
      raise ValueError(f"paper key must be lower snake_case, got {self.key!r}")

  def reference(self) -> str:
    """One line: authors, title, arXiv id and version."""
    return f"{self.authors}, {self.title}, arXiv {self.arxiv} ({self.version})"

  def cite(self, where: str, note: str = "", *,
           verified: bool = False) -> Citation:
    """A :class:`Citation` of this paper at ``where`` (its arXiv id and
    version); ``verified`` stays ``False`` until the constants are read in
    the paper or the authors' code."""
    return Citation(arxiv=self.arxiv, version=self.version, where=where,
                    verified=verified, note=note)
