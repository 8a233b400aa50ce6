"""Helpers the bench scripts share (not bench scripts themselves)."""
