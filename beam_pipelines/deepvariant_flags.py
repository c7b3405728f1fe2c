"""DeepVariant's own flag names, so that one pileflow does not implement is refused as such.

Why a list: a DeepVariant user changes only the command name. When a flag of theirs is one
pileflow lacks, "unknown flag" would suggest a typo; the error must say it is DeepVariant's and
not implemented here, so nobody believes it took effect. Names are from DeepVariant v1.6+
(deepvariant/make_examples_options.py, make_examples.py and the realigner's flags); pileflow's
own parser is asked first, so a flag listed here that pileflow does implement never reaches it.
"""
from __future__ import annotations

MAKE_EXAMPLES = frozenset("""
ref use_ref_for_cram examples checkpoint candidates mode regions exclude_regions variant_caller
gvcf gvcf_gq_binsize p_error include_med_dp confident_regions truth_variants task partition_size
max_reads_per_partition max_reads_for_dynamic_bases_per_region multi_allelic_mode realign_reads
trim_reads_for_pileup write_run_info alt_aligned_pileup types_to_alt_align hts_block_size
min_base_quality min_mapping_quality vsc_min_count_snps vsc_min_count_indels
vsc_min_fraction_snps vsc_min_fraction_indels vsc_min_fraction_multiplier
vsc_max_fraction_indels_for_non_target_sample vsc_max_fraction_snps_for_non_target_sample
downsample_classes training_random_emit_ref_sites pileup_image_width labeler_algorithm
customized_classes_labeler_classes_list customized_classes_labeler_info_field_name
logging_every_n_candidates keep_duplicates keep_supplementary_alignments
keep_secondary_alignments parse_sam_aux_fields aux_fields_to_keep use_original_quality_scores
select_variant_types sequencing_type sort_by_haplotypes reverse_haplotypes
hp_tag_for_assembly_polishing add_hp_channel channels channel_list
add_supporting_other_alt_color population_vcfs use_allele_frequency mean_coverage_per_sample
sample_mean_coverage_on_calling_regions runtime_by_region track_ref_reads normalize_reads
keep_legacy_allele_counter_behavior phase_reads phase_max_candidates enable_joint_realignment
output_local_read_phasing discard_non_dna_regions output_sitelist denovo_regions
deterministic_serialization write_small_model_examples skip_pileup_image_generation
call_small_model_examples small_model_snp_gq_threshold small_model_indel_gq_threshold
small_model_inference_batch_size small_model_vaf_context_window_size trained_small_model_path
stream_examples shm_prefix shm_buffer_size exclude_variants_vcf_filename
exclude_variants_af_threshold output_phase_info haploid_contigs par_regions_bed
reads sample_name downsample_fraction pileup_image_height proposed_variants
ws_use_window_selector_model ws_min_num_supporting_reads ws_max_num_supporting_reads
ws_min_mapq ws_min_base_quality ws_min_windows_distance ws_max_window_size
ws_region_expansion_in_bp dbg_min_k dbg_max_k dbg_step_k dbg_min_mapq dbg_min_base_quality
dbg_min_edge_weight dbg_max_num_paths aln_match aln_mismatch aln_gap_open aln_gap_extend aln_k
aln_error_rate max_num_mismatches realignment_similarity_threshold kmer_size
realigner_diagnostics emit_realigned_reads use_fast_pass_aligner small_model_call_multiallelics
""".split())

# DeepVariant's shuffle script (tools/shuffle_tfrecords_beam.py).
SHUFFLE = frozenset("""
input_pattern_list output_pattern_prefix output_dataset_config_pbtxt output_dataset_name
""".split())

# DeepVariant's deepvariant/postprocess_variants.py (v1.5).
POSTPROCESS_VARIANTS = frozenset("""
ref infile outfile nonvariant_site_tfrecord_path gvcf_outfile qual_filter
multi_allelic_qual_filter cnn_homref_call_min_gq only_keep_pass sample_name group_variants
vcf_stats_report use_multiallelic_model debug_output_all_candidates haploid_contigs
par_regions_bed somatic_variants_path num_partitions partition_size small_model_cvo_records
""".split())

# DeepVariant's call_variants.py / call_variants_keras.py (v1.5, v1.6).
CALL_VARIANTS = frozenset("""
examples checkpoint outfile batch_size max_batches num_readers num_mappers model_name
include_debug_info activation_layers debugging_true_label_mode execution_hardware config_string
kmp_blocktime writer_threads limit gcp_project tpu_zone tpu_name master use_tpu use_openvino
openvino_model_dir
""".split())

# make_dataset takes make_examples' flags for its examples step.
BY_TOOL = {"make_examples": MAKE_EXAMPLES, "make_dataset": MAKE_EXAMPLES, "shuffle": SHUFFLE,
           "call_variants": CALL_VARIANTS, "postprocess_variants": POSTPROCESS_VARIANTS}


def is_deepvariant_flag(tool: str, name: str) -> bool:
  """True when ``name`` (without dashes or a ``no`` prefix) is a DeepVariant ``tool`` flag."""
  names = BY_TOOL.get(tool, frozenset())
  name = name.replace("-", "_")
  return name in names or (name.startswith("no") and name[2:] in names)
