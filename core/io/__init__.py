"""Files and images in and out: the bottom wing of :mod:`core`.

Holds the safe decoding of untrusted image bytes (:mod:`core.io.decode`), pixel-exact
views and encodings (:mod:`core.io.pixels`), atomic writes and bounded CSV reading
(:mod:`core.io.files`), the photographs packaged with our dependencies
(:mod:`core.io.photos`) and outside text made safe to show: file names, URL values,
Markdown and terminal output (:mod:`core.io.text`), and generated sounds with their WAV
bytes (:mod:`core.io.sounds`). It imports nothing from the rest of :mod:`core`; every other wing
may import it.
"""
