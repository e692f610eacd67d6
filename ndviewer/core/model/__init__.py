"""The file model, the ground floor of the core: everything that knows HDF5 and the spec.

Owns opening files read-only with readable errors (``files``) from local disk, URLs or Zarr
stores (``storage``), the lazy node tree
(``nodes``), the type catalogue from the file's own ``/specifications`` with inheritance
(``catalog``), icon families (``families``), the fast persisted typed walk (``index``), the
type → panel registry (``registry``) and attribute/dataset value decoding (``values``).

May import: ``ndviewer.core.cache``, ``ndviewer.core.errors``, ``ndviewer.paths``, h5py,
numpy. Never ``core.nwb``, ``core.signal`` or ``core.edit`` (import-linter checks it): those
floors are built on this one, and the model must stay usable without them.
"""
