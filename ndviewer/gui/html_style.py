"""One stylesheet for the HTML pages (details, overview) so they look like one application."""

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
