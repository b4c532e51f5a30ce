"""Lifecycle: stage models, their presets, and each subject's stage history."""
