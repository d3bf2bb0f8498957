"""`dg.utils.data`: datasets and loaders (the training-library issue fills this package)."""
