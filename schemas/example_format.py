"""The tf.Example written per pileup image, and its parser (spec 1.3, 1.4).

This is the only module in pileflow that spells a feature key. The pipeline calls
``encode_example``; the trainer calls ``parse_spec`` (turning it into ``tf.io`` features
itself, since schemas/ never imports TensorFlow); tools and tests call ``decode_example``.

Compatibility with DeepVariant v1.5 means *equal after parsing*: DeepVariant's map order inside
an Example and inside ``Variant.info`` is arbitrary, so byte equality of records is neither
possible nor required (spec 1.1). We serialize deterministically (sorted map keys) so that our
own reruns are byte-identical.

Features (training writes all 8; calling omits ``label``)::

    image/encoded               bytes   raw uint8 pileup, C-order H x W x C
    image/shape                 int64x3 [H, W, C]
    variant/encoded             bytes   nucleus.genomics.v1.Variant
    alt_allele_indices/encoded  bytes   CallVariantsOutput.AltAlleleIndices
    variant_type                int64   0 unknown, 1 SNP, 2 indel (spec 2.8)
    locus                       bytes   "<contig>:<start+1>-<end>" (1-based, inclusive start)
    sequencing_type             int64   0 unspecified, 1 WGS, 2 WES, 3 TRIO
    label                       int64   0, 1 or 2 (spec 4.6), training only

pileflow-specific optional features (absent from DeepVariant's examples; its trainer ignores
keys it does not parse) are declared in ``EXTRA_FEATURES``; today only ``downsample_fraction``
(float32), recording the read-downsampling fraction an example was made with, so augmented
and plain examples can be told apart after the global shuffle.
"""
from __future__ import annotations

import dataclasses
import posixpath
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from schemas.protos import deepvariant_pb2
from schemas.protos import struct_pb2
from schemas.protos import tfexample_pb2
from schemas.protos import variants_pb2

# ---- Feature keys ------------------------------------------------------------------------------
IMAGE_ENCODED = "image/encoded"
IMAGE_SHAPE = "image/shape"
VARIANT_ENCODED = "variant/encoded"
ALT_ALLELE_INDICES_ENCODED = "alt_allele_indices/encoded"
VARIANT_TYPE = "variant_type"
LOCUS = "locus"
SEQUENCING_TYPE = "sequencing_type"
LABEL = "label"
# Written by DeepVariant only when a second image is passed (never by v1.5 make_examples).
SECOND_IMAGE_ENCODED = "second_image/encoded"
SECOND_IMAGE_SHAPE = "second_image/shape"
# pileflow's own optional feature (see module docstring).
DOWNSAMPLE_FRACTION = "downsample_fraction"

# ---- Values ------------------------------------------------------------------------------------
SEQUENCING_TYPE_UNSPECIFIED = 0
SEQUENCING_TYPE_WGS = 1
SEQUENCING_TYPE_WES = 2
SEQUENCING_TYPE_TRIO = 3
SEQUENCING_TYPES = {"WGS": SEQUENCING_TYPE_WGS, "WES": SEQUENCING_TYPE_WES,
                    "TRIO": SEQUENCING_TYPE_TRIO}

# Info keys DeepVariant sets on the candidate call and on the variant (spec 1.4).
INFO_DP = "DP"
INFO_AD = "AD"
INFO_VAF = "VAF"
INFO_BAM_FNAME = "BAM_FNAME"
# Alt of the very sensitive caller's reference-site candidate (--training_random_emit_ref_sites).
REFERENCE_SITE_ALT = "."
NO_GENOTYPE = (-1, -1)

_BYTES, _INT64, _FLOAT = "bytes", "int64", "float"


@dataclasses.dataclass(frozen=True)
class ExtraFeature:
  """A pileflow-specific optional scalar feature: its key, wire kind and meaning."""
  key: str
  kind: str  # 'bytes' | 'int64' | 'float'
  doc: str


EXTRA_FEATURES: Mapping[str, ExtraFeature] = {
    DOWNSAMPLE_FRACTION: ExtraFeature(
        DOWNSAMPLE_FRACTION, _FLOAT,
        "fraction of reads kept by --downsample_fraction (float32); absent when off"),
}

# Wire kind of every feature DeepVariant v1.5 writes.
_CORE_KINDS = {
    IMAGE_ENCODED: _BYTES, IMAGE_SHAPE: _INT64, VARIANT_ENCODED: _BYTES,
    ALT_ALLELE_INDICES_ENCODED: _BYTES, VARIANT_TYPE: _INT64, LOCUS: _BYTES,
    SEQUENCING_TYPE: _INT64, LABEL: _INT64,
}
_REQUIRED = (IMAGE_ENCODED, IMAGE_SHAPE, VARIANT_ENCODED, ALT_ALLELE_INDICES_ENCODED,
             VARIANT_TYPE, LOCUS)


# ---- Small codecs ------------------------------------------------------------------------------
def alt_allele_indices_bytes(indices: Sequence[int]) -> bytes:
  """Serialized ``AltAlleleIndices`` for ``indices``: ``[0]`` -> ``0a 01 00``."""
  return deepvariant_pb2.CallVariantsOutput.AltAlleleIndices(
      indices=[int(i) for i in indices]).SerializeToString()


def parse_alt_allele_indices(data: bytes) -> Tuple[int, ...]:
  """Inverse of ``alt_allele_indices_bytes``."""
  return tuple(deepvariant_pb2.CallVariantsOutput.AltAlleleIndices.FromString(data).indices)


def locus_string(variant: variants_pb2.Variant) -> str:
  """``"<reference_name>:<start+1>-<end>"`` of the variant's 0-based half-open [start, end).

  SNP at 0-based 10001018 -> ``chr20:10001019-10001019``; the 11-bp deletion at 10004768
  -> ``chr20:10004769-10004779``.
  """
  return f"{variant.reference_name}:{variant.start + 1}-{variant.end}"


def bam_fname_from_reads_flag(reads: str) -> str:
  """``info.BAM_FNAME`` value: the basename of the whole ``--reads`` string (spec 1.4).

  For comma-separated BAMs this is the basename of the full string, as DeepVariant does.
  """
  return posixpath.basename(reads)


def _list_value(values, field: str) -> struct_pb2.ListValue:
  return struct_pb2.ListValue(values=[struct_pb2.Value(**{field: v}) for v in values])


def variant_to_proto(contig: str, start: int, ref: str, alts: Sequence[str], *,
                     sample_name: str, dp: int, ad: Optional[Sequence[int]] = None,
                     genotype: Sequence[int] = NO_GENOTYPE,
                     bam_fname: Optional[str] = None) -> variants_pb2.Variant:
  """The ``Variant`` DeepVariant's very sensitive caller (and labeler) put in an example.

  ``start`` is 0-based; ``end`` = start + len(ref). Exactly one call, named ``sample_name``,
  with ``genotype`` ((-1, -1) in calling mode, the label genotype in training) and info
  ``DP`` = [dp] (int_value), ``AD`` = ad (int_value list: ref count, then one count per alt in
  ``alts`` order) and ``VAF`` = ad[i+1] / dp per alt (double; 0.0 when dp is 0, a case the
  caller never emits). A reference-site candidate (alts == ["."]) carries only DP, and ``ad``
  is ignored for it. ``bam_fname`` (training) becomes the variant-level info ``BAM_FNAME``.
  ``alts`` are written in the given order (the caller sorts them).

  Raises:
    ValueError: ``ad`` is missing or does not have len(alts) + 1 entries.
  """
  alts = list(alts)
  call = variants_pb2.VariantCall(call_set_name=sample_name,
                                  genotype=[int(g) for g in genotype])
  call.info[INFO_DP].CopyFrom(_list_value([int(dp)], "int_value"))
  if alts != [REFERENCE_SITE_ALT]:
    if ad is None or len(ad) != len(alts) + 1:
      raise ValueError(f"{contig}:{start + 1} {ref}>{','.join(alts)}: AD must have "
                       f"{len(alts) + 1} counts (ref + one per alt), got {ad!r}")
    call.info[INFO_AD].CopyFrom(_list_value([int(c) for c in ad], "int_value"))
    vaf = [(int(c) / dp) if dp else 0.0 for c in ad[1:]]
    call.info[INFO_VAF].CopyFrom(_list_value(vaf, "number_value"))
  variant = variants_pb2.Variant(reference_name=contig, start=int(start),
                                 end=int(start) + len(ref), reference_bases=ref,
                                 alternate_bases=alts, calls=[call])
  if bam_fname is not None:
    variant.info[INFO_BAM_FNAME].CopyFrom(_list_value([bam_fname], "string_value"))
  return variant


# ---- Example -----------------------------------------------------------------------------------
def _set(example: tfexample_pb2.Example, key: str, kind: str, values) -> None:
  feature = example.features.feature[key]
  if kind == _BYTES:
    feature.bytes_list.value.extend(values)
  elif kind == _INT64:
    feature.int64_list.value.extend(int(v) for v in values)
  else:
    feature.float_list.value.extend(float(v) for v in values)


def encode_example(image: np.ndarray, variant: variants_pb2.Variant,
                   alt_indices: Sequence[int], variant_type: int, sequencing_type: int = 0,
                   label: Optional[int] = None,
                   extra: Optional[Mapping[str, Any]] = None) -> bytes:
  """Serialized tf.Example for one pileup image (spec 1.3).

  Args:
    image: uint8 array H x W x C (channels last, in ``channels.physical_channel_order``).
    variant: the candidate (training: with the label genotype and BAM_FNAME set).
    alt_indices: 0-based indices into ``variant.alternate_bases`` shown in this image, sorted.
    variant_type: 0 unknown, 1 SNP, 2 indel (spec 2.8).
    sequencing_type: 0 unspecified (DeepVariant's default), 1 WGS, 2 WES, 3 TRIO.
    label: training label 0..2, or None in calling mode (no ``label`` feature).
    extra: pileflow-only optional features, keys from ``EXTRA_FEATURES`` (scalar values).

  ``locus`` is derived from the variant's [start, end) (see ``locus_string``).

  Raises:
    ValueError: wrong image dtype/rank, unsorted or out-of-range alt indices, unknown extra key.
  """
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim != 3:
    raise ValueError(f"image must be uint8 HxWxC, got {image.dtype} with shape {image.shape}")
  alt_indices = [int(i) for i in alt_indices]
  n_alts = len(variant.alternate_bases)
  if (not alt_indices or alt_indices != sorted(set(alt_indices)) or alt_indices[0] < 0 or
      alt_indices[-1] >= n_alts):
    raise ValueError(f"{locus_string(variant)}: alt_indices {alt_indices} must be sorted, "
                     f"unique indices into {n_alts} alternate_bases")
  example = tfexample_pb2.Example()
  _set(example, IMAGE_ENCODED, _BYTES, [np.ascontiguousarray(image).tobytes()])
  _set(example, IMAGE_SHAPE, _INT64, image.shape)
  _set(example, VARIANT_ENCODED, _BYTES, [variant.SerializeToString(deterministic=True)])
  _set(example, ALT_ALLELE_INDICES_ENCODED, _BYTES, [alt_allele_indices_bytes(alt_indices)])
  _set(example, VARIANT_TYPE, _INT64, [variant_type])
  _set(example, LOCUS, _BYTES, [locus_string(variant).encode("latin-1")])
  _set(example, SEQUENCING_TYPE, _INT64, [sequencing_type])
  if label is not None:
    _set(example, LABEL, _INT64, [label])
  for key, value in (extra or {}).items():
    if key not in EXTRA_FEATURES:
      raise ValueError(f"unknown extra feature {key!r}; declare it in "
                       f"schemas.example_format.EXTRA_FEATURES (known: {sorted(EXTRA_FEATURES)})")
    _set(example, key, EXTRA_FEATURES[key].kind, [value])
  return example.SerializeToString(deterministic=True)


@dataclasses.dataclass(frozen=True, eq=False)
class ExampleRecord:
  """One decoded example. ``image`` is a read-only uint8 H x W x C view of the record bytes.

  ``extra`` holds the ``EXTRA_FEATURES`` present (scalars; floats carry float32 precision);
  ``unknown`` holds any other feature as a tuple of its values (e.g. keys added by later
  DeepVariant versions), so decoding never silently loses data.
  """
  image: np.ndarray
  shape: Tuple[int, int, int]
  variant: variants_pb2.Variant
  alt_indices: Tuple[int, ...]
  variant_type: int
  sequencing_type: int
  locus: str
  label: Optional[int] = None
  extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  unknown: Mapping[str, Tuple[Any, ...]] = dataclasses.field(default_factory=dict)

  def encode(self) -> bytes:
    """Re-serializes this record with ``encode_example`` (e.g. after changing the label).

    Features in ``unknown`` are not written back: only keys declared here may be encoded.
    """
    return encode_example(self.image, self.variant, self.alt_indices, self.variant_type,
                          self.sequencing_type, self.label, self.extra)


def _values(feature: tfexample_pb2.Feature, kind: str, key: str):
  present = feature.WhichOneof("kind")
  wanted = {_BYTES: "bytes_list", _INT64: "int64_list", _FLOAT: "float_list"}[kind]
  if present != wanted:
    raise ValueError(f"feature {key!r} is {present}, expected {wanted}")
  return getattr(feature, wanted).value


def _single(features, key: str, kind: str):
  values = _values(features[key], kind, key)
  if len(values) != 1:
    raise ValueError(f"feature {key!r} must hold exactly 1 value, found {len(values)}")
  return values[0]


def decode_example(data: bytes) -> ExampleRecord:
  """Parses a serialized tf.Example written by DeepVariant v1.5 or by ``encode_example``.

  ``sequencing_type`` defaults to 0 when absent (examples older than DeepVariant 1.4).

  Raises:
    ValueError: a required feature is missing or has the wrong kind/size, or the image byte
      count does not match ``image/shape``.
  """
  example = tfexample_pb2.Example.FromString(data)
  features = example.features.feature
  missing = [k for k in _REQUIRED if k not in features]
  if missing:
    raise ValueError(f"example is missing required feature(s) {missing}")
  shape = tuple(int(v) for v in _values(features[IMAGE_SHAPE], _INT64, IMAGE_SHAPE))
  if len(shape) != 3:
    raise ValueError(f"feature {IMAGE_SHAPE!r} must be [H, W, C], got {list(shape)}")
  raw = _single(features, IMAGE_ENCODED, _BYTES)
  if len(raw) != shape[0] * shape[1] * shape[2]:
    raise ValueError(f"{IMAGE_ENCODED!r} has {len(raw)} bytes but {IMAGE_SHAPE!r} is "
                     f"{list(shape)} ({shape[0] * shape[1] * shape[2]} bytes)")
  image = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
  variant = variants_pb2.Variant.FromString(_single(features, VARIANT_ENCODED, _BYTES))
  extra: Dict[str, Any] = {}
  unknown: Dict[str, Tuple[Any, ...]] = {}
  for key, feature in features.items():
    if key in _CORE_KINDS:
      continue
    if key in EXTRA_FEATURES:
      extra[key] = _single(features, key, EXTRA_FEATURES[key].kind)
    else:
      kind = feature.WhichOneof("kind")
      unknown[key] = tuple(getattr(feature, kind).value) if kind else ()
  return ExampleRecord(
      image=image,
      shape=shape,
      variant=variant,
      alt_indices=parse_alt_allele_indices(_single(features, ALT_ALLELE_INDICES_ENCODED, _BYTES)),
      variant_type=int(_single(features, VARIANT_TYPE, _INT64)),
      sequencing_type=(int(_single(features, SEQUENCING_TYPE, _INT64))
                       if SEQUENCING_TYPE in features else SEQUENCING_TYPE_UNSPECIFIED),
      locus=_single(features, LOCUS, _BYTES).decode("latin-1"),
      label=int(_single(features, LABEL, _INT64)) if LABEL in features else None,
      extra=dict(sorted(extra.items())),
      unknown=dict(sorted(unknown.items())),
  )


def example_label(data: bytes) -> Optional[int]:
  """The ``label`` of a serialized example, or None (calling examples); for label counting."""
  features = tfexample_pb2.Example.FromString(data).features.feature
  return int(_single(features, LABEL, _INT64)) if LABEL in features else None


def example_shape(data: bytes) -> Tuple[int, ...]:
  """The ``image/shape`` of a serialized example (what example_info.json records)."""
  features = tfexample_pb2.Example.FromString(data).features.feature
  return tuple(int(v) for v in _values(features[IMAGE_SHAPE], _INT64, IMAGE_SHAPE))


def parse_spec(training: bool = True,
               include_shape: bool = False) -> Dict[str, Tuple[str, Tuple[int, ...]]]:
  """What the trainer parses from each example: {key: (dtype name, shape)}.

  dtype names are 'string' or 'int64' (tf.string / tf.int64); every entry is a fixed-length
  feature. Training/eval adds ``label`` and ``locus`` (spec 1.3). ``image/shape`` is normally
  read once from the first record instead (pass ``include_shape`` to parse it per record).
  pileflow's optional ``EXTRA_FEATURES`` are not listed: they may be absent.

  >>> parse_spec(training=False)['variant_type']
  ('int64', ())
  """
  spec: Dict[str, Tuple[str, Tuple[int, ...]]] = {
      IMAGE_ENCODED: ("string", ()),
      VARIANT_ENCODED: ("string", ()),
      ALT_ALLELE_INDICES_ENCODED: ("string", ()),
      VARIANT_TYPE: ("int64", ()),
      SEQUENCING_TYPE: ("int64", ()),
  }
  if training:
    spec[LABEL] = ("int64", ())
    spec[LOCUS] = ("string", ())
  if include_shape:
    spec[IMAGE_SHAPE] = ("int64", (3,))
  return spec
