"""Checkerboard Lab core: a pure library (numpy/torch/pandas/plotly), never importing streamlit."""
