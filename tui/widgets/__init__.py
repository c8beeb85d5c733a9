"""Reusable widgets, one public widget per module."""
