"""Protobuf sources and their generated modules (``*_pb2.py``, built by build.py, git-ignored).

Import the generated modules as ``from schemas.protos import variants_pb2`` only after
``import schemas`` has run (it always has: Python imports the parent package first), because
that import is what compiles them in a source checkout.
"""
