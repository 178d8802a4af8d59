"""gridvae helpers: the small library behind the notebooks.

Modules, one job each:

- ``pianoroll``: MIDI <-> grid and the grid format (pure functions, no torch)
- ``corpus``: the embedded default dataset, exported from the music21 corpus
- ``archive``: datasets packed as zip/tar archives, fetched and extracted safely
- ``data``: build, cache and split style-labelled datasets; the command line
- ``segments``: fixed-length training segments as a PyTorch dataset
- ``models``: the recurrent VAE (plain or style-conditioned), configs and presets
- ``losses``: reconstruction + beta * KL with annealing and free bits; the style loss
- ``train``: a model-agnostic training loop with atomic checkpoints and exact resume
- ``experiment``: the experiment spec, the splits, the run folder, loading a trained run
- ``generate``: sample, reconstruct, interpolate, move between styles, transfer
- ``render``: piano-roll figures, audio, MIDI/WAV/PNG files, downloads
- ``colab``: Colab detection, Google Drive (optional), default folders, the runtime warning
- ``own_midi``: the user's own MIDI files (a path or Colab's upload), checked and cut into a model's segments
- ``cli``: headless training from an experiment spec, in one process or under ``torchrun`` (DDP)
- ``pretrained``: the trained models shipped in ``helpers/pretrained/``: load, describe, export, train
- ``metrics``: reconstruction scores, the independent style classifier and the figures it gives
- ``musicstats``: musical statistics of grid sets, samples beside real music
- ``evaluation``: a trained run measured on held-out data, into ``eval.json``
"""
