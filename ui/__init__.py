"""Streamlit-side helpers shared by the pages (the core stays free of streamlit)."""
