"""pileflow's Beam half: BAM/CRAM regions -> labeled pileup examples -> shuffled training shards.

Layout (see CONVENTIONS): ``core/`` is pure logic with no Beam import, ``io/`` holds thin
adapters over pysam and files, ``transforms/`` holds one PTransform per module, and the
top-level modules are thin entry points (``python -m beam_pipelines.<name>``).
"""
