"""A tool button that opens its menu on click, with its arrow beside the text.

Qt sizes an instant-popup tool button for its text alone and then paints the menu arrow over
the text's last letters ("Overlays", "Columns" read with an arrow through them). The arrow is
written as part of the text instead, so the button is as wide as what it shows.
"""

from __future__ import annotations

from PySide6.QtWidgets import QToolButton, QWidget

ARROW = "▾"


def menu_button(text: str, parent: QWidget | None = None) -> QToolButton:
    button = QToolButton(parent)
    button.setText(f"{text} {ARROW}")
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
    return button
