"""gridvae helpers: the small library behind the notebooks.

Modules, one job each:

- ``pianoroll``: MIDI <-> grid (pure functions, no torch)
- ``corpus``: the embedded default dataset, exported from the music21 corpus
- ``archive``: datasets packed as zip/tar archives, fetched and extracted safely
- ``data``: build, cache and split style-labelled datasets; the command line
- ``segments``: fixed-length training segments as a PyTorch dataset
"""
