"""Training: the loop (AMP, DDP, EMA, resume), optimiser groups and schedules, checkpoints."""
