"""One module per paper: its claims and the recreations of its figures.

Each module defines ``PAPER`` (a :class:`~boundlab.claims.Paper`), ``CLAIMS``
(a tuple of :class:`~boundlab.claims.Claim`) and, where the paper has
synthetic examples of its own beyond the claims' figures,
``example_figures(out_dir, quick) -> list[Path]`` recreating them; a paper
with several experiments is a package with one module per experiment. The
registry (:mod:`boundlab.claims.registry`) imports the modules listed here;
nothing else in boundlab imports this package except the command line.
Outside paper modules enter through the same registry (an entry point or
``--papers``).
"""

MODULES = ("chen2020", "dicesgd2024", "cohen2021", "mulayoff2023", "wusu2023",
           "pan2023", "heo2021", "even2023", "liu2023", "benarous2021",
           "damian2023", "wei2026", "bu2023", "ertan2026", "zanella2023",
           "ganesh2025", "bu2021", "li2021", "lu2024", "liuxie2023", "du2022",
           "richtarik2021", "richtarik2024", "tang2021",
           "defazio2023", "zhu2026", "nabli2023", "rodio2024",
           "fraboni2023", "farhadkhani2023")
