"""An explorer of the run store: choose a run, scrub through its epochs, see what the model knows where.

It reads stored runs only and never trains.

* :func:`catalogue`: one row per stored run, read from the runs' ``config.json`` alone (fast), with the
  notebooks that used it (see :class:`memlib.RunStore`'s ``notebook``) and the values the filters use.
* :func:`filter_runs`: the catalogue narrowed by notebook, model, alphabet size, entropy and seed.
* :func:`character_view`: per string and position at one epoch, the character, the probability of
  the true character (``p_true``, from the run's per-position arrays), whether the greedy prediction
  is right, and the colour both renderings use.
* :func:`string_html` and :func:`figure`: the interactive (HTML) and static (matplotlib) renderings;
  :func:`figure` also draws the run's curves with the epoch marked, the phases of
  :mod:`memlib.milestones` shaded, a schedule's stages and the probes of notebook 03.
* :class:`Explorer`: the ipywidgets that tie them together (``display(Explorer())`` in JupyterLab).

A small package: the data (:mod:`.data`), the static drawing (:mod:`.drawing`), the widgets (:mod:`.widgets`) and
notebook 00's parameters (:mod:`.params`).
"""

from .data import (ANY, CATALOGUE_COLUMNS, CMAP, FILTERS, WRONG, catalogue, character_view, default_epoch,
                   differences, empty_message, epochs_of, extraction_view, filter_runs, string_html)
from .drawing import compare_figure, figure, image
from .params import PRESETS, Params
from .widgets import Explorer

__all__ = ["ANY", "CATALOGUE_COLUMNS", "CMAP", "FILTERS", "WRONG", "catalogue", "filter_runs", "empty_message", "epochs_of", "default_epoch",
           "image", "character_view", "extraction_view", "string_html", "figure", "differences", "compare_figure", "Explorer",
           "Params", "PRESETS"]
