"""The bottom of the import graph: errors, atomic writes, locks, process ranks and the plugin registry,
importable by every package without importing upward."""
