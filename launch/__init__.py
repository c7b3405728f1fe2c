"""Submission of pileflow's pipelines to Dataflow and of its trainer to Vertex AI."""
