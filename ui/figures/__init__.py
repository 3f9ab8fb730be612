"""Shared views: the figures and renderers that two or more pages use.

A page view (``ui/<page>.py``) may import from here, from :mod:`ui.common`,
:mod:`ui.catalog`, :mod:`ui.uploads` and :mod:`ui.errors`, never from another page's view
(``tests/core/test_architecture.py`` checks it). The story composes its steps from these
modules.
"""
