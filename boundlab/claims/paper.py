"""Papers and citations: where a statement is made, precisely enough to check it.

A source is an arXiv preprint (id and version), a DOI, or a book (a
reference such as "Nesterov, Lectures on Convex Optimization, 2nd ed.,
Springer 2018"); a citation adds the location (theorem, equation, section)
and whether the constants were checked.
"""

from __future__ import annotations

import dataclasses
import re

from boundlab import _validation as v

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
# New-style (2507.06542) and old-style (math/0601001, math.OC/0601001) ids.
_ARXIV = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$")
_VERSION = re.compile(r"^v\d+$")


def _source(arxiv, version, doi, book) -> str:
  if arxiv:
    return f"arXiv {arxiv} ({version})"
  if doi:
    return f"doi:{doi}"
  return book or ""


def _check_source(what, arxiv, version, doi, book) -> None:
  for name, value, pattern, example in (
      ("arxiv", arxiv, _ARXIV, "'2507.06542'"),
      ("version", version, _VERSION, "'v2'")):
    if value is not None and not (isinstance(value, str)
                                  and pattern.match(value)):
      raise ValueError(f"{what}: {name} must look like {example}, got "
                       f"{value!r}")
  for name, value in (("doi", doi), ("book", book)):
    if value is not None and not isinstance(value, str):
      raise ValueError(f"{what}: {name} must be a string, got {value!r}")
  if not (arxiv or doi or book):
    raise ValueError(f"{what} needs a source: an arxiv id (with its "
                     "version), a doi, or a book reference")
  if arxiv and not version:
    raise ValueError(f"{what}: an arXiv id needs the version the "
                     "citation refers to (e.g. 'v2')")


@dataclasses.dataclass(frozen=True)
class Citation:
  """A location in a paper.

  Attributes:
    arxiv: arXiv identifier, e.g. ``"2006.15429"`` (or ``None``).
    version: arXiv version the location refers to, e.g. ``"v2"``.
    where: theorem / lemma / equation / section, e.g. ``"Theorem 3.7"``.
    verified: whether the statement *and its constants* were checked against
      the paper text or the authors' code. ``False`` is shown in every report.
    note: what was checked, what was derived, what remains uncertain, with the
      shared references' tags ([V] checked, [R] recalled, [D] derived, [U]
      uncertain).
    doi: a DOI instead of (or beside) the arXiv id.
    book: a book reference when the source is a book.
  """

  arxiv: str | None
  version: str | None
  where: str
  verified: bool
  note: str = ""
  doi: str | None = None
  book: str | None = None

  def __post_init__(self):
    v.check_name("where", self.where)
    v.check_bool("verified", self.verified)
    if not isinstance(self.note, str):
      raise ValueError(f"note must be a string, got {self.note!r}")
    _check_source("a citation", self.arxiv, self.version, self.doi, self.book)

  def short(self) -> str:
    return (f"{_source(self.arxiv, self.version, self.doi, self.book)}, "
            f"{self.where}")

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Paper:
  """A source paper (or book).

  Attributes:
    key: short id used in claim ids and ``boundlab repro`` (e.g. ``chen2020``).
    title, authors, venue: bibliographic data; ``authors`` comma-separated.
    arxiv: arXiv id; version: the version our citations refer to.
    doi: DOI; book: a book reference (publisher, edition); at least one of
      arxiv, doi and book is needed.
    year: year of publication (by default the venue's year, else the arXiv
      id's).
  """

  key: str
  title: str
  authors: str
  arxiv: str | None = None
  version: str | None = None
  venue: str = ""
  doi: str | None = None
  book: str | None = None
  year: int | None = None

  def __post_init__(self):
    if not (isinstance(self.key, str) and _KEY.match(self.key)):
      raise ValueError(f"paper key must be lower snake_case, got {self.key!r}")
    v.check_name("title", self.title)
    v.check_name("authors", self.authors)
    if self.year is not None:
      v.check_positive_int("year", self.year, minimum=1000, maximum=2100)
    _check_source(f"paper {self.key}", self.arxiv, self.version, self.doi,
                  self.book)

  def reference(self) -> str:
    """One line: authors, title, and the source."""
    return (f"{self.authors}, {self.title}, "
            f"{_source(self.arxiv, self.version, self.doi, self.book)}")

  def cite(self, where: str, note: str = "", *,
           verified: bool = False) -> Citation:
    """A :class:`Citation` of this paper at ``where`` (its source);
    ``verified`` stays ``False`` until the constants are read in the paper
    or the authors' code."""
    return Citation(arxiv=self.arxiv, version=self.version, where=where,
                    verified=verified, note=note, doi=self.doi,
                    book=self.book)

  def publication_year(self) -> int | None:
    if self.year:
      return self.year
    found = re.search(r"(19|20)\d\d", self.venue or self.book or "")
    if found:
      return int(found.group(0))
    if self.arxiv and re.match(r"^\d{4}\.", self.arxiv):
      return 2000 + int(self.arxiv[:2])
    return None

  def bibtex(self) -> str:
    """A BibTeX entry (``@misc`` for preprints, ``@book`` for books,
    ``@inproceedings``/``@article`` when the venue says so)."""
    venue = self.venue or ""
    if self.book and not self.arxiv:
      kind = "book"
    elif re.search(r"[Jj]ournal|JMLR|TMLR|Transactions|Letters|Review|Annals"
                   r"|SIAM J", venue):
      kind = "article"
    elif venue:
      kind = "inproceedings"
    else:
      kind = "misc"
    fields = {"title": "{" + self.title + "}",
              "author": " and ".join(a.strip() for a in
                                     self.authors.split(","))}
    if kind == "article":
      fields["journal"] = venue
    elif kind == "inproceedings":
      fields["booktitle"] = venue
    if self.book:
      fields["publisher"] = self.book
    year = self.publication_year()
    if year:
      fields["year"] = str(year)
    if self.doi:
      fields["doi"] = self.doi
    if self.arxiv:
      fields |= {"eprint": self.arxiv, "archivePrefix": "arXiv",
                 "note": f"arXiv version {self.version}"}
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@{kind}{{{self.key},\n{body}\n}}"
