"""Segments: named rules, the builder that writes them, and stored membership."""
