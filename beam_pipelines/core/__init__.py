"""Pure logic of the pipelines: functions of arrays and small value types, no Beam, no files."""
