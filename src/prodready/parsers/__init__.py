"""Parsers: one per file kind, each returning plain data with source lines."""
