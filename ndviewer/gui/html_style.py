"""One stylesheet for the HTML pages (details, overview) so they look like one application.

The page follows the window's light or dark theme (``gui.theme``): the same rules, with each
colour swapped for its dark counterpart.
"""

from ndviewer.gui import theme

PAGE_CSS = """
body { font-family: sans-serif; font-size: 10pt; color: #1d2731; }
h2 { font-size: 14pt; margin: 2px 0 4px 0; color: #1d2731; }
h3 { font-size: 11pt; margin: 14px 0 4px 0; color: #3b5b92; border-bottom: 1px solid #d5dde5; }
.sub { color: #5d6d7e; }
.doc { color: #2c3e50; margin: 4px 0 8px 0; }
.chain a { text-decoration: none; color: #2874a6; }
.warn { background: #fdf2d0; color: #7d5a00; padding: 4px; border: 1px solid #f0d98c; }
.missing { color: #c0392b; font-weight: bold; }
.err { background: #fadbd8; color: #922b21; padding: 4px; }
table.kv { border-collapse: collapse; margin-top: 2px; }
table.kv td { padding: 2px 10px 2px 0; vertical-align: top; }
table.kv td.k { color: #5d6d7e; white-space: nowrap; }
table.grid { border-collapse: collapse; }
table.grid td, table.grid th { border: 1px solid #d5dde5; padding: 2px 6px; }
table.grid th { background: #eef2f6; text-align: left; }
code { font-family: monospace; }
"""

#: Light colour -> the colour the same rule takes on a dark window.
DARK_COLORS = {
    "#1d2731": "#e6e9ee",
    "#3b5b92": "#8fb3e8",
    "#d5dde5": "#454c56",
    "#5d6d7e": "#9aa5b1",
    "#2c3e50": "#cfd6de",
    "#2874a6": "#7fb2f0",
    "#fdf2d0": "#4a3f1c",
    "#7d5a00": "#f3d98a",
    "#f0d98c": "#6e5d24",
    "#c0392b": "#ff7b6b",
    "#fadbd8": "#5a2622",
    "#922b21": "#ffb3aa",
    "#eef2f6": "#323840",
}


def page_css() -> str:
    """The stylesheet for the theme the window is drawn in now."""
    if not theme.is_dark():
        return PAGE_CSS
    css = PAGE_CSS
    for light, dark in DARK_COLORS.items():
        css = css.replace(light, dark)
    return css
