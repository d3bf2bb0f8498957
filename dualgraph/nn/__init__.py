"""`dg.nn`: modules, layers and losses (the training-library issue fills this package)."""
