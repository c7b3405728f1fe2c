"""pileflow's trainer half: TensorFlow/Keras and schemas/ only.

It never imports apache_beam or pysam, so it installs with ``pip install pileflow[trainer]``
alone (tests/unit/test_packaging.py proves it) and talks to the pipelines only through files:
TFRecords of tf.Examples, ``dataset_config.pbtxt`` and the manifest, all defined in schemas/.
"""
