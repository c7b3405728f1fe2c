"""Beam's DaskRunner with the three gaps pileflow's pipelines hit, closed.

Why: Beam 2.77's DaskRunner (apache_beam.runners.dask.dask_runner) runs make_examples as is,
but not shuffle or make_dataset, for reasons found by running them
(tests/e2e/test_dask_runner.py):
1. it computes only the dask graph of the LAST leaf transform it visits
   (``dask.optimize(list(bags.values())[-1])``): a pipeline with two sinks (the shuffle writes
   shards AND a scatter summary; make_dataset writes one shuffle per split) silently skips the
   others;
2. a multi-output ParDo (``with_outputs``) produces ONE dask bag holding main outputs and
   ``TaggedOutput``s mixed, and every consumer gets all of it, whatever tag it reads.
Found on the way: 3. Beam's per-partition function collects a DoFn's outputs BEFORE
``finish_bundle``, so outputs emitted there (the scatter's bundle summary) are lost.
This runner keeps Beam's translation of every transform and fixes all three: a ParDo's bag
holds ``(tag, value)`` pairs collected after finish_bundle, each consumer reads the pairs of
its own tag, and every leaf bag (a transform no other consumes) is computed.

  python -m beam_pipelines.shuffle ... --runner launch.dask_runner.DaskRunnerAllSinks \\
    --dask_client_address tcp://127.0.0.1:8786
"""
from __future__ import annotations

import dataclasses

from apache_beam import pvalue
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.dask import dask_runner as beam_dask
from apache_beam.runners.dask.overrides import dask_overrides
from apache_beam.runners.dask import transform_evaluator as evaluator
from apache_beam.runners.dask.transform_evaluator import (TRANSLATIONS, DaskBagWindowedIterator,
                                                          Flatten, NoOp)
from apache_beam.transforms.sideinputs import SideInputMap


def _run_bundle_keeping_tags(items, invoker_args, invoker_kwargs, receivers):
  """One dask partition = one bundle; returns ``(tag, value)`` pairs, tag None for main.

  Unlike Beam's ``apply_dofn_to_bundle`` it collects outputs AFTER finish_bundle (pileflow's
  scatter emits its bundle summary there) and keeps each output's tag.
  """
  from apache_beam.runners.common import DoFnInvoker
  receivers.values.clear()  # the list every TaggingReceiver of this ParDo appends to
  invoker = DoFnInvoker.create_invoker(*invoker_args, **invoker_kwargs)
  invoker.invoke_setup()
  invoker.invoke_start_bundle()
  for item in items:
    invoker.invoke_process(item)
  invoker.invoke_finish_bundle()
  invoker.invoke_teardown()
  out = []
  for v in receivers.values:
    if isinstance(v, pvalue.TaggedOutput):
      out.append((v.tag, v.value.value))
    else:
      out.append((None, v.value))
  receivers.values.clear()
  return out


class _TaggedParDo(evaluator.ParDo):
  """Beam's ParDo translation (transform_evaluator.ParDo.apply, Beam 2.77) with
  ``_run_bundle_keeping_tags`` as the per-partition function."""

  def apply(self, input_bag, side_inputs=None):
    transform = self.transform
    args, kwargs = transform.raw_side_inputs
    main_input = next(iter(self.applied.main_inputs.values()))
    window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
    receivers = evaluator.OneReceiver()
    invoker_args = [
        evaluator.DoFnSignature(transform.fn),
        evaluator._OutputHandler(  # pylint: disable=protected-access
            window_fn=window_fn, main_receivers=receivers[None], tagged_receivers=receivers,
            per_element_output_counter=None, output_batch_converter=None,
            process_yields_batches=False, process_batch_yields_elements=False),
    ]
    invoker_kwargs = dict(context=evaluator.DoFnContext(transform.label, state=None),
                          side_inputs=side_inputs, input_args=list(args), input_kwargs=kwargs,
                          user_state_context=None,
                          bundle_finalizer_param=evaluator.DoFn.BundleFinalizerParam())
    return input_bag.map(evaluator.get_windowed_value, window_fn).map_partitions(
        _run_bundle_keeping_tags, invoker_args, invoker_kwargs, receivers)


def _input_bag(bags, tagged, pcoll):
  """The bag a consumer of ``pcoll`` reads: a ParDo's pairs filtered to ``pcoll``'s tag."""
  producer = pcoll.producer
  bag = bags[producer]
  if producer not in tagged:
    return bag
  tag = pcoll.tag  # the main output's PCollection has tag None
  return bag.filter(lambda pair, tag=tag: pair[0] == tag).map(lambda pair: pair[1])


class DaskRunnerAllSinks(beam_dask.DaskRunner):
  """DaskRunner that routes tagged outputs by tag and computes every sink."""

  @staticmethod
  def to_dask_bag_visitor(bag_kwargs=None) -> PipelineVisitor:
    bag_kwargs = bag_kwargs or {}

    @dataclasses.dataclass
    class Visitor(PipelineVisitor):
      bags: dict = dataclasses.field(default_factory=dict)
      consumed: set = dataclasses.field(default_factory=set)
      tagged: set = dataclasses.field(default_factory=set)  # ParDos whose bags hold pairs

      def visit_transform(self, node) -> None:
        op_class = TRANSLATIONS.get(node.transform.__class__, NoOp)
        if op_class is evaluator.ParDo:
          op_class = _TaggedParDo
          self.tagged.add(node)
        op = op_class(node, bag_kwargs=bag_kwargs)
        kws = {"input_bag": None, "side_inputs": None}
        inputs = [i for i in node.inputs if not isinstance(i, pvalue.PBegin)]
        if inputs:
          bag_inputs = []
          for pcoll in inputs:
            if pcoll.producer in self.bags:
              self.consumed.add(pcoll.producer)
              bag_inputs.append(_input_bag(self.bags, self.tagged, pcoll))
          if len(bag_inputs) == 1 and not isinstance(op, Flatten):
            kws["input_bag"] = bag_inputs[0]
          else:
            kws["input_bag"] = bag_inputs
        if node.side_inputs:
          side = []
          for si in node.side_inputs:
            self.consumed.add(si.pvalue.producer)
            side.append(SideInputMap(type(si), si._view_options(),  # pylint: disable=protected-access
                                     DaskBagWindowedIterator(_input_bag(self.bags, self.tagged, si.pvalue),
                                                             si._window_mapping_fn)))  # pylint: disable=protected-access
          kws["side_inputs"] = side
        self.bags[node] = op.apply(**kws)

      def leaves(self):
        return [bag for node, bag in self.bags.items() if node not in self.consumed]

    return Visitor()

  def run_pipeline(self, pipeline, options):
    import dask
    import dask.distributed as ddist
    dask_options = options.view_as(beam_dask.DaskOptions).get_all_options(
        drop_default=True, current_only=True)
    bag_kwargs = beam_dask.DaskOptions._extract_bag_kwargs(dask_options)  # pylint: disable=protected-access
    client = ddist.Client(**dask_options)
    pipeline.replace_all(dask_overrides())
    visitor = self.to_dask_bag_visitor(bag_kwargs)
    pipeline.visit(visitor)
    graphs = dask.optimize(*visitor.leaves())
    futures = client.compute(list(graphs))
    return beam_dask.DaskRunnerResult(client, futures)
