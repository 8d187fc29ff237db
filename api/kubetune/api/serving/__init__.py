"""Serving: waking InferenceServices scaled to zero, and managing InferenceServices for projects."""
