"""Dataset layer: load, clean, split, store and describe (synopsis, title) datasets."""
