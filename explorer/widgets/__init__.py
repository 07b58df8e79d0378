"""Reusable widgets shared by the panels (the heatmap, ...).

Importing this package configures pyqtgraph once for the whole application:
no antialiasing (crisp cells, faster), images indexed ``[row, column]`` like
NumPy arrays, and pyqtgraph's own Python overrides of Qt virtuals (its paint
methods, its scene's mouse events) guarded like ours (``explorer.guard``): an
exception in them would otherwise end the process.
"""

import pyqtgraph as pg

from ..guard import guard_pyqtgraph

pg.setConfigOptions(antialias=False, imageAxisOrder="row-major")
guard_pyqtgraph()


def on_screen(widget) -> bool:
    """True when any of ``widget`` can be seen.

    A panel in a dock tab behind another is still "visible" for Qt
    (``isVisible()``), but its visible region is empty; panels skip redrawing
    then and catch up in ``showEvent`` (the main window sends one when a tab
    comes to the front).
    """
    return widget.isVisible() and not widget.visibleRegion().isEmpty()
