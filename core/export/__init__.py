"""Export a trained checkpoint as a plain Hugging Face model folder with a model card, and push it."""
