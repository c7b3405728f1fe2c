"""Warm start from checkpoints (ours or DeepVariant's) and export in DeepVariant's form.

Why by position: DeepVariant >= 1.6 checkpoints are tf.keras TF-format checkpoints keyed by
layer position (``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`` = first conv kernel
``[3, 3, C_in, 32]``; spec 9B). Ours are ``tf.train.Checkpoint(model=...)`` with the same keys
under ``model/``. Both therefore describe a model as "weighted layer i has variables {attr:
shape}", which we compare with the model being trained before copying anything, so that a
checkpoint of another architecture is refused with one line instead of a partial load.

Channel adaptation (spec 9B): when the only difference is the first conv's input-channel count
and ``adapt_channels`` is on, the slice ``[:, :, :min(C_ckpt, C_new), :]`` of the checkpoint's
kernel is copied into the new kernel and the remaining input-channel slices keep the new model's
random (glorot-uniform) initialisation; every other variable is copied as is. Going 6 -> 7
channels keeps the 6 trained slices and adds one random slice; 7 -> 6 drops the last slice.

Export (``export_deepvariant_checkpoint``): ``model.save_weights(<dir>/model.ckpt)`` in TF format
(what call_variants' ``model.load_weights`` reads), with ``example_info.json`` beside it and
v1.5's ``model.ckpt.example_info.json`` name too.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from schemas import errors
from schemas import example_info as example_info_lib
from schemas import small_model
from trainer import models

_KEY_RE = re.compile(r"^(?:(model)/)?layer_with_weights-(\d+)/(.+)/\.ATTRIBUTES/VARIABLE_VALUE$")
DV_CHECKPOINT_NAME = "model.ckpt"
# A variable only small-model checkpoints hold (trainer/small_model_loop.py INPUT_MEAN_KEY).
SMALL_MODEL_MARKER_KEY = "input_mean/.ATTRIBUTES/VARIABLE_VALUE"


class CheckpointError(errors.InputError):
  """A checkpoint that cannot initialise the model; one line naming the checkpoint and why."""


@dataclasses.dataclass(frozen=True)
class CheckpointLayout:
  """Variables of a checkpoint's model, by weighted-layer index then attribute name."""
  path: str
  scope: str  # '' for DeepVariant's model-rooted checkpoints, 'model/' for ours
  layers: Dict[int, Dict[str, Tuple[int, ...]]]

  def key(self, index: int, attr: str) -> str:
    return f"{self.scope}layer_with_weights-{index}/{attr}/.ATTRIBUTES/VARIABLE_VALUE"

  @property
  def num_channels(self) -> Optional[int]:
    """Input channels of the first conv (dim 2 of layer 0's 4-D kernel), None if none."""
    for attr, shape in sorted(self.layers.get(0, {}).items()):
      if attr.endswith("kernel") and len(shape) == 4:
        return shape[2]
    return None


def resolve_checkpoint(path: str) -> str:
  """A checkpoint prefix from a prefix or a directory holding a ``checkpoint`` state file."""
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      if tf.io.gfile.exists(os.path.join(path, small_model.MODEL_JSON)):
        raise CheckpointError(f"{path}: a small-model export ({small_model.MODEL_JSON}), not a "
                              "pileup model checkpoint; it warm-starts --config=small_model")
      raise CheckpointError(f"{path}: directory holds no checkpoint (no 'checkpoint' file)")
    return latest
  if not tf.io.gfile.exists(path + ".index"):
    raise CheckpointError(f"{path}: no such checkpoint ({path}.index does not exist)")
  return path


def _first_line(error: BaseException) -> str:
  text = (getattr(error, "message", None) or str(error)).strip()
  return text.splitlines()[0] if text else type(error).__name__


def check_readable(prefix: str, what: str = "checkpoint") -> None:
  """Refuses a checkpoint whose ``.index`` (or data) TensorFlow cannot read, naming the file.

  Cheap: reads the index and the variable list only, so a resumed run finds a damaged
  checkpoint before training, not at the end.
  """
  try:
    tf.train.list_variables(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise CheckpointError(f"{prefix}.index: unreadable {what} ({_first_line(e)}); restore the "
                          "file, or train in a new --experiment_dir") from None


def check_pointer(directory: str, what: str = "checkpoint") -> None:
  """Refuses a ``checkpoint`` pointer file TensorFlow cannot parse beside checkpoint files.

  tf.train.CheckpointManager only logs such a file and starts afresh, which would train from
  step 0 over the checkpoints of an earlier run. A missing pointer is fine: the files are then
  orphans of a first save killed before the pointer was written.
  """
  pointer = os.path.join(directory, "checkpoint")
  if not tf.io.gfile.exists(pointer):
    return
  try:
    state = tf.train.get_checkpoint_state(directory)
  except (tf.errors.OpError, ValueError) as e:
    state = None
    reason = _first_line(e)
  else:
    reason = "not a CheckpointState text proto"
  if state is None or not state.model_checkpoint_path:
    found = sorted(tf.io.gfile.glob(os.path.join(directory, "ckpt-*.index")))
    if found:
      raise CheckpointError(f"{pointer}: unreadable {what} pointer ({reason}) beside "
                            f"{len(found)} checkpoint(s) such as {found[-1][:-len('.index')]}; "
                            "restore the file, or train in a new --experiment_dir")


def read_layout(path: str) -> CheckpointLayout:
  """The model variables of checkpoint ``path`` (prefix or directory)."""
  prefix = resolve_checkpoint(path)
  try:
    variables = tf.train.list_variables(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise CheckpointError(f"{prefix}: unreadable checkpoint ({e})") from None
  if any(name == SMALL_MODEL_MARKER_KEY for name, _ in variables):
    raise CheckpointError(f"{prefix}: a small-model checkpoint (trainer.train "
                          "--config=small_model), not a pileup model; it cannot initialise a CNN")
  by_scope: Dict[str, Dict[int, Dict[str, Tuple[int, ...]]]] = {"": {}, "model/": {}}
  for name, shape in variables:
    m = _KEY_RE.match(name)
    if m and ".OPTIMIZER_SLOT" not in name:
      scope = "model/" if m.group(1) else ""
      by_scope[scope].setdefault(int(m.group(2)), {})[m.group(3)] = tuple(shape)
  scope = "model/" if by_scope["model/"] else ""
  if not by_scope[scope]:
    raise CheckpointError(f"{prefix}: holds no Keras model variables (layer_with_weights-*); "
                          "not a tf.keras / pileflow checkpoint")
  return CheckpointLayout(path=prefix, scope=scope, layers=by_scope[scope])


def _layer_variables(layer) -> Dict[str, tf.Variable]:
  """{checkpoint attribute path: variable} of one layer, as tf.train.Checkpoint names them.

  Nested layers (ConvNeXt's stem is a Sequential) give paths such as
  ``layer_with_weights-0/kernel``; plain layers give ``kernel``, ``gamma``, ...
  """
  out: Dict[str, tf.Variable] = {}
  seen = set()

  def walk(obj, prefix: str) -> None:
    if id(obj) in seen:
      return
    seen.add(id(obj))
    for name, child in obj._trackable_children(save_type="checkpoint").items():
      if isinstance(child, tf.Variable):
        out[prefix + name] = child
      elif isinstance(child, tf.Module) and (child.variables if hasattr(child, "variables")
                                             else False):
        walk(child, f"{prefix}{name}/")
  walk(layer, "")
  if not out:  # fall back on the variable names ('conv/kernel:0' -> 'kernel')
    out = {w.name.split("/")[-1].split(":")[0]: w for w in layer.weights}
  return out


def model_variables(model) -> Dict[int, Dict[str, tf.Variable]]:
  return {i: _layer_variables(layer) for i, layer in enumerate(models.weighted_layers(model))}


def _shape(v) -> Tuple[int, ...]:
  return tuple(int(d) for d in v.shape)


def plan_warm_start(layout: CheckpointLayout, bundle: models.ModelBundle, *,
                    load_head: bool, adapt_channels: bool) -> List[int]:
  """Checks the checkpoint against the model; returns the weighted-layer indices to copy.

  Raises:
    CheckpointError: another architecture (layer count or a variable shape differs), or a
      different input-channel count without ``adapt_channels``.
  """
  variables = model_variables(bundle.model)
  wanted = list(range(len(variables) if load_head else bundle.num_backbone_weighted))
  n_ckpt = len(layout.layers)
  if load_head and n_ckpt != len(variables) or n_ckpt < len(wanted):
    raise CheckpointError(
        f"{layout.path}: has {n_ckpt} weighted layers but model {bundle.model_type} "
        f"{'with its head ' if load_head else 'backbone '}has {len(wanted)}; a checkpoint of "
        "another architecture cannot initialise it")
  for i in wanted:
    ckpt_vars = layout.layers.get(i, {})
    for attr, var in variables[i].items():
      if attr not in ckpt_vars:
        raise CheckpointError(f"{layout.path}: layer_with_weights-{i} has no {attr!r} for model "
                              f"layer {models.weighted_layers(bundle.model)[i].name}; another "
                              "architecture?")
      found, expected = ckpt_vars[attr], _shape(var)
      if found == expected:
        continue
      if (i == 0 and attr.endswith("kernel") and len(found) == 4 and found[:2] == expected[:2] and
          found[3] == expected[3]):
        if not adapt_channels:
          raise CheckpointError(
              f"{layout.path}: first conv has {found[2]} input channels but the data has "
              f"{expected[2]}; set --config.adapt_channels=True to copy the "
              f"{min(found[2], expected[2])} shared channel slices and initialise the rest "
              "randomly")
        continue
      layer_name = models.weighted_layers(bundle.model)[i].name
      raise CheckpointError(
          f"{layout.path}: layer_with_weights-{i} {attr} is {list(found)} in the checkpoint but "
          f"{list(expected)} in model {bundle.model_type} (layer {layer_name}); a checkpoint of "
          "another architecture cannot initialise it")
  return wanted


def adapt_kernel(ckpt_kernel: np.ndarray, new_kernel: np.ndarray) -> np.ndarray:
  """First-conv kernel for a new channel count: shared input-channel slices copied (spec 9B)."""
  out = np.array(new_kernel, copy=True)
  c = min(ckpt_kernel.shape[2], out.shape[2])
  out[:, :, :c, :] = ckpt_kernel[:, :, :c, :]
  return out


def warm_start(bundle: models.ModelBundle, path: str, *, load_head: bool = True,
               adapt_channels: bool = False) -> CheckpointLayout:
  """Copies a checkpoint's weights into ``bundle.model`` (module docstring); returns its layout.

  ``load_head`` False (the new-head fine-tune modes) copies the backbone only.
  """
  layout = read_layout(path)
  indices = plan_warm_start(layout, bundle, load_head=load_head, adapt_channels=adapt_channels)
  reader = tf.train.load_checkpoint(layout.path)
  variables = model_variables(bundle.model)
  for i in indices:
    for attr, var in variables[i].items():
      value = reader.get_tensor(layout.key(i, attr))
      if tuple(value.shape) != _shape(var):
        value = adapt_kernel(value, var.numpy())
      var.assign(value.astype(var.dtype.as_numpy_dtype))
  return layout


def checkpoint_example_info_path(path: str) -> Optional[str]:
  """example_info.json of a checkpoint: ``<prefix>.example_info.json`` or in its directory."""
  prefix = resolve_checkpoint(path)
  for candidate in (prefix + example_info_lib.EXAMPLE_INFO_SUFFIX,
                    os.path.join(os.path.dirname(prefix),
                                 example_info_lib.DATASET_EXAMPLE_INFO_NAME)):
    if tf.io.gfile.exists(candidate):
      return candidate
  return None


def read_checkpoint_channels(path: str) -> Optional[Tuple[int, ...]]:
  info_path = checkpoint_example_info_path(path)
  if info_path is None:
    return None
  with tf.io.gfile.GFile(info_path, "r") as f:
    return tuple(example_info_lib.parse_example_info(f.read(), source=info_path).channels)


def export_deepvariant_checkpoint(model: tf_keras.Model, out_dir: str,
                                  shape: Sequence[int], channels: Sequence[int]) -> str:
  """Writes ``<out_dir>/model.ckpt`` (tf.keras TF format) + example_info.json; returns prefix."""
  tf.io.gfile.makedirs(out_dir)
  prefix = os.path.join(out_dir, DV_CHECKPOINT_NAME)
  model.save_weights(prefix, save_format="tf")
  text = example_info_lib.example_info_json(shape, channels)
  for name in (example_info_lib.DATASET_EXAMPLE_INFO_NAME,
               DV_CHECKPOINT_NAME + example_info_lib.EXAMPLE_INFO_SUFFIX):
    with tf.io.gfile.GFile(os.path.join(out_dir, name), "w") as f:
      f.write(text)
  return prefix


def export_saved_model(model: tf_keras.Model, out_dir: str, shape: Sequence[int],
                       channels: Sequence[int]) -> str:
  """A Keras SavedModel (``tf.saved_model.load`` and ``tf_keras.models.load_model`` read it)."""
  model.save(out_dir, save_format="tf", include_optimizer=False)
  with tf.io.gfile.GFile(os.path.join(out_dir, example_info_lib.DATASET_EXAMPLE_INFO_NAME),
                         "w") as f:
    f.write(example_info_lib.example_info_json(shape, channels))
  return out_dir
