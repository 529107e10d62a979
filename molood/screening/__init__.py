"""Screening libraries at scale: the streaming engine (:mod:`.engine`), its worker processes
(:mod:`.worker`), in-memory scoring shared with the pandas accessor (:mod:`.scoring`), the
resumable work directory (:mod:`.workdir`) and cluster shards (:mod:`.shard`).

The engine's process never imports torch; only workers (or an in-process scorer) load a model.
"""
