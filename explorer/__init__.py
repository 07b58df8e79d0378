"""The Qt application of Backprop Explorer.

``create_window(...)`` builds the main window without starting the event loop
(tests and ``--screenshot`` use it; so does ``main()``). Importing this package
does not import Qt: the headless command line stays light.
"""


def create_window(*args, **kwargs):
    from .app import create_window as _create_window

    return _create_window(*args, **kwargs)


__all__ = ["create_window"]
