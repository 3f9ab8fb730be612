"""Files and images in and out: the bottom wing of :mod:`core`.

Holds the safe decoding of untrusted image bytes (:mod:`core.io.decode`), pixel-exact
views and encodings (:mod:`core.io.pixels`), atomic writes and bounded CSV reading
(:mod:`core.io.files`) and the photographs packaged with our dependencies
(:mod:`core.io.photos`). It imports nothing from the rest of :mod:`core`; every other wing
may import it.
"""
