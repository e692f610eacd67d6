"""The only writer: every change to a file goes through here.

Owns the edit transaction (``transaction``: validate → journal → apply → verify → undo), the
metadata forms generated from the catalogue (``forms``), field validators (``validators``),
batch edits and templates over many files (``batch_edit``, ``ndviewer edit``) and the
signal QC write-back as standard NWB (``qc_writeback``).

May import: ``core.model`` and the top-level ``core`` modules. Nothing below it imports it,
and nothing outside it opens a file for writing.
"""
