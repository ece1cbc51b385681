"""What every finding's figures share: the style, ``save_figure`` (PNG + SVG) and a legend below the panels.
Each finding draws its own figures (``plot_*`` in its module)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

__all__ = ["style", "save_figure", "legend_below"]


def style() -> None:
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight", "svg.hashsalt": "memlib",
                         "svg.fonttype": "none"})


def save_figure(fig, name: str, figures_dir: str | os.PathLike) -> list[Path]:
    """Write ``fig`` as ``<figures_dir>/<name>.png`` and ``.svg`` (each written to a temporary
    file, then renamed into place). Call it after the notebook's work has succeeded."""
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        target = folder / f"{name}.{ext}"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".{ext}", dir=folder)
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext, metadata={"Date": None} if ext == "svg" else {"Software": None})
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        paths.append(target)
    return paths


def legend_below(fig, axes, ncol):
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    rows = axes.shape[0]
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol, frameon=False, fontsize=8,
               bbox_to_anchor=(0.5, -0.02 - 0.05 / rows))
    fig.tight_layout(rect=(0, 0.05 + 0.03 * (len(handles) // ncol) / rows, 1, 1))


