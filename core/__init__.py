"""The NumPy core of Backprop Explorer.

Nothing under ``core`` imports Qt or pyqtgraph: the window, the command line and
the tests all read the same documented fields of these objects.
"""
