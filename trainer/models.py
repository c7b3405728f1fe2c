"""Model registry: a backbone per name, one shared head, DeepVariant's checkpoint layout.

Why tf_keras (Keras 2) and not Keras 3: DeepVariant >= 1.6 saves its models as tf.keras (Keras 2)
TF-format checkpoints whose variables are keyed by position, e.g.
``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`` for the first conv; call_variants loads
them with ``model.load_weights``. Building our models with tf_keras gives that exact layout for
free (warm start from DeepVariant, export to DeepVariant) and lets tf.train.Checkpoint hold the
model, the optimizer (with its EMA slots) and the step for resume.

Why flat: DeepVariant builds ``Model(backbone.input, head(backbone.output))``, so the backbone's
layers and the head are one flat list of layers and the positional keys above number them in
order. We build every registered backbone the same way; ``ModelBundle.num_backbone_weighted``
tells where the backbone ends and the head begins (a warm start into a new head copies only the
backbone part).

The head (spec 9B): global-average-pooled backbone features -> Dropout(backbone_dropout_rate) ->
[Dense(head_hidden_units, relu) in the hidden-head fine-tune mode] ->
Dense(3, softmax, float32, name 'classification'). The model outputs probabilities.

Adding a backbone is one function::

    @register('my_net')
    def my_net(input_shape):          # -> tf_keras.Model: image -> pooled feature vector
      return tf_keras.applications.MobileNetV3Small(include_top=False, weights=None,
                                                    input_shape=input_shape, pooling='avg')

L2 weight decay (``weight_decay``) is applied by the train step to ``ModelBundle.decay_kernels``
(every conv kernel and every dense kernel), which equals DeepVariant's per-layer L2 regularizers
without re-building the model from its config.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Callable, Dict, List, Sequence, Tuple

import tensorflow as tf
import tf_keras

from schemas import labels as labels_lib
from trainer import configs
from trainer import grouped_conv
from trainer import read_rows

BackboneFn = Callable[[Tuple[int, int, int]], tf_keras.Model]
_REGISTRY: Dict[str, BackboneFn] = {}
# Smallest input each keras.applications backbone accepts (InceptionV3: 75x75).
MIN_SIZE = {"inception_v3": 75, "resnet50_v2": 32, "efficientnet_v2_b0": 32,
            "convnext_tiny": 32, "regnety_002": 32, "regnety_032": 32, "small": 32, "tiny": 8}
HEAD_NAME = "classification"
HIDDEN_NAME = "head_hidden"


def register(name: str):
  """Decorator adding a backbone builder ``fn(input_shape) -> pooled-features Model``."""
  def wrap(fn: BackboneFn) -> BackboneFn:
    if name in _REGISTRY:
      raise ValueError(f"backbone {name!r} is registered twice")
    _REGISTRY[name] = fn
    return fn
  return wrap


def registered() -> List[str]:
  return sorted(_REGISTRY)


def _quiet(fn, *args, **kwargs):
  # keras.applications warns for channel counts other than 1 or 3; any count is intended here.
  with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="This model usually expects")
    return fn(*args, **kwargs)


@register("inception_v3")
def inception_v3(input_shape):
  """DeepVariant's backbone: keras.applications InceptionV3, no top, average pooling."""
  return _quiet(tf_keras.applications.InceptionV3, include_top=False, weights=None,
                input_shape=input_shape, pooling="avg")


@register("resnet50_v2")
def resnet50_v2(input_shape):
  return _quiet(tf_keras.applications.ResNet50V2, include_top=False, weights=None,
                input_shape=input_shape, pooling="avg")


@register("efficientnet_v2_b0")
def efficientnet_v2_b0(input_shape):
  # Preprocessing off: inputs are already (x - 128) / 128 and ImageNet stats fit 3 channels only.
  return _quiet(tf_keras.applications.EfficientNetV2B0, include_top=False, weights=None,
                input_shape=input_shape, pooling="avg", include_preprocessing=False)


@register("convnext_tiny")
def convnext_tiny(input_shape):
  return _quiet(tf_keras.applications.ConvNeXtTiny, include_top=False, weights=None,
                input_shape=input_shape, pooling="avg", include_preprocessing=False)


@register("regnety_002")
def regnety_002(input_shape):
  """RegNetY-200MF (keras.applications), the CPU-size RegNetY: its grouped 3x3 convolutions
  computed group by group (``trainer.grouped_conv``), since keras' grouped op is 60-300x
  slower on CPU. Same layers, names and weights as keras' model."""
  return grouped_conv.with_split_group_convs(_quiet(
      tf_keras.applications.RegNetY002, include_top=False, weights=None,
      input_shape=input_shape, pooling="avg", include_preprocessing=False))


@register("regnety_032")
def regnety_032(input_shape):
  """RegNetY-3.2GF (keras.applications), the GPU-size RegNetY, keras' layers as they are
  (cuDNN runs grouped convolutions well; on CPU use regnety_002)."""
  return _quiet(tf_keras.applications.RegNetY032, include_top=False, weights=None,
                input_shape=input_shape, pooling="avg", include_preprocessing=False)


@register("small")
def small(input_shape):
  """The CPU backbone: a compact ResNet-style net, ~225k weights, ~40M multiply-adds.

  Layout: 5x5 stride-4 conv (24) -> 3x3 stride-2 conv (48) -> 3x3 stride-2 conv (96) -> one
  residual block of two 3x3 convs (96) -> global average pooling; batch norm + ReLU after
  every conv. On a 100x221 pileup the last maps are 7x14, each cell seeing ~60 reads x ~60
  columns, which covers the candidate's column and its neighbourhood. Beside that trunk, the
  read-row branch (``trainer.read_rows``) looks at the candidate's columns one read at a time,
  so fractions of reads (what a genotype is) stay fractions at any coverage.

  Why this shape (measured with bench/backbones.py on the project's 2-core machine, batch 64,
  [100, 221, 7]): training speed on CPU is set by the first, full-resolution layers, so the
  stem downsamples 4x at once and the width goes to the low-resolution end. Dense convs beat
  depthwise-separable ones here: keras MobileNetV3-Small (minimalistic, 443k weights) trained
  at ~170-185 examples/s against ~340 for this net. Batch norm trains fine at the ``small``
  preset's batch 64 over thousands of steps (unlike ``tiny``'s batch 8). All layers are plain
  tf.keras layers, so DeepVariant's positional checkpoint layout holds it.
  """
  layers = tf_keras.layers

  def conv_bn(x, filters, kernel, strides, name, relu=True):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x

  inputs = tf_keras.Input(shape=input_shape, name="image")
  x = conv_bn(inputs, 24, 5, 4, "small_stem")
  x = conv_bn(x, 48, 3, 2, "small_down1")
  x = conv_bn(x, 96, 3, 2, "small_down2")
  y = conv_bn(x, 96, 3, 1, "small_res_a")
  y = conv_bn(y, 96, 3, 1, "small_res_b", relu=False)
  x = layers.ReLU(name="small_res_relu")(layers.Add(name="small_res_add")([x, y]))
  # The candidate sits in the image's middle column: pool that column of the last map (over
  # its rows) beside the whole map, so the head sees the candidate's own evidence undiluted by
  # the 13 neighbouring columns a plain global average mixes in.
  width = int(x.shape[2])
  mid = (int(input_shape[1]) - 1) // 2 * width // int(input_shape[1])
  centre = layers.Cropping2D(((0, 0), (mid, width - mid - 1)), name="small_centre_crop")(x)
  x = layers.Concatenate(name="small_pool_concat")([
      layers.GlobalAveragePooling2D(name="small_pool")(x),
      layers.GlobalAveragePooling2D(name="small_centre_pool")(centre),
      read_rows.read_row_features(inputs, "small_rows")])
  return tf_keras.Model(inputs, x, name="small")


@register("tiny")
def tiny(input_shape):
  """Test backbone: a 5x5 stride-4 conv, a 3x3 stride-2 conv and pooling, ~2.5k weights.

  Small enough for CI on 2 cores (100x221x6 at batch 8 trains at several hundred steps/s of
  model time) yet able to learn het vs hom-alt from the read-supports-variant channel. No batch
  norm on purpose: with a few hundred steps of batch 8, batch-norm moving statistics lag the
  weights and the inference-mode tune scores swing wildly.
  """
  inputs = tf_keras.Input(shape=input_shape, name="image")
  x = tf_keras.layers.Conv2D(8, 5, strides=4, padding="same", activation="relu",
                             name="tiny_conv0")(inputs)
  x = tf_keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu",
                             name="tiny_conv1")(x)
  x = tf_keras.layers.GlobalAveragePooling2D(name="tiny_pool")(x)
  return tf_keras.Model(inputs, x, name="tiny")


@dataclasses.dataclass
class ModelBundle:
  """The built model and what the trainer needs to know about its parts."""
  model: tf_keras.Model
  model_type: str
  num_backbone_weighted: int   # weighted layers belonging to the backbone (first in order)
  decay_kernels: List[tf.Variable]
  input_shape: Tuple[int, int, int]

  @property
  def weighted_layers(self) -> List[tf_keras.layers.Layer]:
    return weighted_layers(self.model)


def weighted_layers(model: tf_keras.Model) -> List[tf_keras.layers.Layer]:
  """Layers that own variables, in the order their ``layer_with_weights-<i>`` keys number them."""
  return [layer for layer in model.layers if layer.weights]


def build_model(model_type: str, input_shape: Sequence[int], *, dropout_rate: float = 0.2,
                fine_tune_mode: str = configs.FINE_TUNE_WHOLE, head_hidden_units: int = 256,
                seed: int = 0) -> ModelBundle:
  """Backbone ``model_type`` + the shared head, flat like DeepVariant's (module docstring).

  In the frozen-backbone fine-tune modes every backbone layer is made non-trainable (its batch
  norms then run in inference mode) and only the head trains.

  Raises:
    ValueError: unknown model_type (names the registered ones) or an image smaller than the
      backbone accepts.
  """
  if model_type not in _REGISTRY:
    raise ValueError(f"--config.model_type={model_type!r} is not registered; known: "
                     f"{', '.join(registered())}")
  input_shape = tuple(int(v) for v in input_shape)
  low = MIN_SIZE.get(model_type, 1)
  if min(input_shape[:2]) < low:
    raise ValueError(f"{model_type} needs images of at least {low}x{low}; the data has "
                     f"{input_shape[0]}x{input_shape[1]}")
  tf_keras.utils.set_random_seed(seed)
  backbone = _REGISTRY[model_type](input_shape)
  num_backbone_weighted = len(weighted_layers(backbone))
  x = tf_keras.layers.Dropout(dropout_rate, name="backbone_dropout")(backbone.output)
  if fine_tune_mode == configs.FINE_TUNE_FROZEN_HIDDEN_HEAD:
    x = tf_keras.layers.Dense(head_hidden_units, activation="relu", name=HIDDEN_NAME)(x)
  outputs = tf_keras.layers.Dense(labels_lib.NUM_CLASSES, activation="softmax",
                                  dtype=tf.float32, name=HEAD_NAME)(x)
  model = tf_keras.Model(backbone.input, outputs, name=model_type)
  if fine_tune_mode != configs.FINE_TUNE_WHOLE:
    for layer in weighted_layers(model)[:num_backbone_weighted]:
      layer.trainable = False
  decay = []
  for layer in model.layers:
    if not layer.trainable:
      continue
    if isinstance(layer, (tf_keras.layers.Conv2D, tf_keras.layers.Dense)):
      decay.append(layer.kernel)
    elif isinstance(layer, tf_keras.layers.DepthwiseConv2D):
      decay.append(layer.depthwise_kernel)
  return ModelBundle(model=model, model_type=model_type,
                     num_backbone_weighted=num_backbone_weighted, decay_kernels=decay,
                     input_shape=input_shape)
