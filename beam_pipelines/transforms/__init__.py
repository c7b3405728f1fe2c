"""One PTransform per module; ``expand()`` only chains labelled steps that call ``core/``."""
