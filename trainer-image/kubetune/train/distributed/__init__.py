"""Many training processes on torch.distributed: the world, the sharding strategy, DCP checkpoints,
the SIGTERM stop, failure classification and the torchrun (elastic) launcher.

A single process is the world of one: every helper here is then a no-op or a plain local call, so the
loop has one code path.
"""
