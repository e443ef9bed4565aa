"""Turn a checkpoint and a task into per-item results, written through db/."""
