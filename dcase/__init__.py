"""The data layer, at the bottom of the data flow: DCASE Task 2 years 2020 to 2025.

audio files -> `reader.load_clips` (one clip table, any year) -> ... -> per-clip scores ->
`submission.write` (the official files) and `metrics` (the official scores). `tasks` holds one module per
year, `names` the file-name grammar they share, `ground_truth` both published forms of the evaluation
labels, `generate` (and `synth`, its sound recipes) the generated stand-ins.
"""
