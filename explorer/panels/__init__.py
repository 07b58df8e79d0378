"""The panels of the main window.

Each module holds one QWidget class constructed as ``Panel(session, parent=None)``.
A panel subscribes to the session's signals, reads ``session.model``,
``session.stage`` and friends, and changes things only through session methods.
The main window (``explorer.main_window.PANELS``) decides which panels exist and
where their docks go.
"""
