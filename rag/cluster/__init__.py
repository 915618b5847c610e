"""Spreading work over a Ray cluster when one machine is not enough: the index build's reading, chunking and
embedding (``index``), and batch answering or evaluation over actors that each load the index and models
once (``spread``, ``pipelines``). Ray is an optional extra (``pip install .[ray]``); nothing here imports it
until a command is given ``--ray`` (``connect``)."""
