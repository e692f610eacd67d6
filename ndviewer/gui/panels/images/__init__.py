"""Parts of the image panel: contrast mapping, overlays and playback helpers."""
