"""Thin adapters between files (pysam, TFRecord, text) and the pure core types."""
