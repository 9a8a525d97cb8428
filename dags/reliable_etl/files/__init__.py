"""Nightly fixed-width files: declared layouts, a fast parser, atomic loads with snapshots."""

PIPELINE = "files"
