"""A button that opens its menu on click, with the menu arrow beside its text.

An instant-popup QToolButton is sized for its text alone and Qt paints the menu arrow over the
text's last letters ("Overlays", "Columns" read with an arrow through them). A push button
with a menu is sized for both, with no style sheet (which would put the button under Qt's
slower style-sheet style).
"""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton, QWidget


def menu_button(text: str, parent: QWidget | None = None) -> QPushButton:
    """A button showing ``text`` that opens the menu given to it with ``setMenu``."""
    return QPushButton(text, parent)
