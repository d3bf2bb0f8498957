"""`dg.optim`: optimizers and learning-rate schedules (the training-library issue fills this)."""
