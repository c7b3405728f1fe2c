"""Image order per candidate (spec 2.9) and the genotype -> label rule (spec 4.6)."""
import pytest

from schemas import labels


@pytest.mark.parametrize("n,exclude,expected", [
    (1, False, [(0,)]),  # biallelic: one image
    (2, False, [(0,), (1,), (0, 1)]),  # verified order on DeepVariant's golden calling file
    (3, False, [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]),  # n + n(n-1)/2 = 6
    (3, True, [(0,), (1,), (2,)]),  # exclude_het_alt_images: singles only
    (0, False, []),  # no alts, no image
])
def test_alt_allele_combinations(n, exclude, expected):
  assert labels.alt_allele_combinations(n, exclude) == expected


def test_combinations_count_for_many_alts():
  assert len(labels.alt_allele_combinations(5)) == 5 + 10


@pytest.mark.parametrize("genotype,expected", [
    ((0, 0), (0,)), ((0, 1), (1,)), ((1, 1), (2,)),  # biallelic: 0/1/2 copies
    ((-1, -1), (0,)),  # missing genotype counts as no alt
])
def test_biallelic_labels(genotype, expected):
  assert tuple(labels.label_for_image(genotype, idx)
               for idx in labels.alt_allele_combinations(1)) == expected


@pytest.mark.parametrize("genotype,expected", [
    ((0, 1), (1, 0, 1)),  # het A1: only images containing A1 count it
    ((1, 1), (2, 0, 2)),
    ((0, 2), (0, 1, 1)),
    ((2, 2), (0, 2, 2)),
    ((1, 2), (1, 1, 2)),  # het-alt: the [0,1] image sees both haplotypes
    ((0, 0), (0, 0, 0)),
])
def test_two_alt_labels_from_spec_4_6(genotype, expected):
  images = labels.alt_allele_combinations(2)  # [0], [1], [0,1]
  assert tuple(labels.label_for_image(genotype, idx) for idx in images) == expected


def test_classes():
  assert labels.NUM_CLASSES == 3 == len(labels.CLASS_NAMES)
  assert labels.CLASS_NAMES[labels.LABEL_HET] == "het"


def test_rejects_polyploid_label_and_negative_alts():
  with pytest.raises(ValueError, match="diploid"):
    labels.label_for_image((1, 1, 1), (0,))
  with pytest.raises(ValueError):
    labels.alt_allele_combinations(-1)
