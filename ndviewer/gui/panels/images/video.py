"""Play an ImageSeries' external video files, or say which are missing.

Qt Multimedia is not part of PySide6-Essentials (it ships in PySide6-Addons); when it cannot
be imported the view says so and offers to open the file in the system's player, so the
panel degrades to something useful instead of failing.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ndviewer.core.nwb.images import ExternalFile, describe_missing


def multimedia_available() -> bool:
    """True when Qt Multimedia (and its widgets) can be imported here."""
    try:
        from PySide6 import QtMultimedia, QtMultimediaWidgets  # noqa: F401
    except ImportError:
        return False
    return True


class ExternalVideoView(QWidget):
    """Shows the first present external file, with a message naming missing ones.

    Attributes
    ----------
    message : QLabel
        The status sentence (missing files, no Qt Multimedia), empty when playing.
    player : QMediaPlayer or None
        The media player when Qt Multimedia is available and a file is present.
    """

    def __init__(self, files: list[ExternalFile], series_path: str, parent=None) -> None:
        super().__init__(parent)
        self.files = files
        self.player = None
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("padding: 8px;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        lines = []
        missing = describe_missing(files, series_path)
        if missing:
            lines.append(missing)
        present = [f for f in files if f.exists]
        if present and multimedia_available():
            self._build_player(present[0], layout)
        elif present:
            lines.append(
                "Video playback needs Qt Multimedia, which this installation lacks "
                "(PySide6-Addons); the file can be opened in the system's player."
            )
            row = QHBoxLayout()
            for f in present:
                button = QPushButton(f"Open {f.path.name}")
                button.setToolTip(str(f.path))
                button.clicked.connect(
                    lambda _=False, p=f.path: QDesktopServices.openUrl(QUrl.fromLocalFile(str(p)))
                )
                row.addWidget(button)
            row.addStretch(1)
            layout.addLayout(row)
        elif not files:
            lines.append(f"{series_path} has no frames in the file and no external files.")
        self.message.setText("\n\n".join(lines))
        layout.addStretch(1)

    def _build_player(self, file: ExternalFile, layout: QVBoxLayout) -> None:
        from PySide6.QtMultimedia import QMediaPlayer
        from PySide6.QtMultimediaWidgets import QVideoWidget

        self.video = QVideoWidget()
        self.player = QMediaPlayer(self)
        self.player.setVideoOutput(self.video)
        self.player.setSource(QUrl.fromLocalFile(str(file.path)))
        layout.addWidget(self.video, 1)
        play = QPushButton("Play / pause")
        play.clicked.connect(self._toggle)
        layout.addWidget(play)

    def _toggle(self) -> None:
        if self.player is None:
            return
        if self.player.playbackState() == self.player.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def shutdown(self) -> None:
        if self.player is not None:
            self.player.stop()
