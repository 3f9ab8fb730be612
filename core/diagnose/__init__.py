"""Diagnose a picture: find a network's grid in what it made, without the network.

One stage a module: the lattice test, a picture's fine detail against its own spectrum at
every integer period from 2 to 32, rows and columns apart (:mod:`~core.diagnose.lattice`);
a JPEG's own blocks recognised (:mod:`~core.diagnose.compression`); what a period means
for the network, and the fix (:mod:`~core.diagnose.meaning`); the typed result
(:mod:`~core.diagnose.result`); one picture read and diagnosed
(:mod:`~core.diagnose.diagnosis`); many pictures, folders and zips, and their verdict
(:mod:`~core.diagnose.batch`); the command line (:mod:`~core.diagnose.cli`,
``python -m core.diagnose``). It builds on :mod:`core.io` (the decoder, its limits, safe
text) and :mod:`core.maths` (the checkerboard score, fine detail, phase patterns, spectra)
and may import those two wings only; the audit links to it in words, not in code.
"""

from .diagnosis import MIN_GRID_LEVELS, diagnose, load_picture
from .lattice import ALPHA, MAX_PERIOD
from .result import Diagnosis

__all__ = ["ALPHA", "MAX_PERIOD", "MIN_GRID_LEVELS", "Diagnosis", "diagnose", "load_picture"]
