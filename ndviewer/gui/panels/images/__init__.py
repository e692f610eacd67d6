"""The image panel (``image_panel.ImagePanel``) and its parts: canvas, contrast mapping, controls,
ROI overlays, playback, the linked trace strip and the external-video view."""
