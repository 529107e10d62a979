"""Screening libraries at scale: the streaming engine (:mod:`.engine`) with its input planning
(:mod:`.plan`), output tables (:mod:`.output`), run summary (:mod:`.summary`) and resumable work
directory (:mod:`.workdir`); models as screening sees them (:mod:`.models`), the worker-process
side (:mod:`.worker`), in-memory scoring shared with the pandas accessor (:mod:`.scoring`) and
cluster shards (:mod:`.shard`).

The engine's process never imports torch; only workers (or an in-process scorer) load a model.
"""
