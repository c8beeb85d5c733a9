"""Polite, resumable harvesting of (story, title) records from the Narou novel API."""
