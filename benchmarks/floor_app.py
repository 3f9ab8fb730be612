"""Streamlit's own floor for ``benchmarks/presenter.py``: the least any page of a Streamlit
app can take to open in a fresh browser session on this machine.

``?chart=0``: a title and one sentence; ``?chart=1``: the same plus one small plotly
heatmap with its numbers written in the cells (as the story's coverage and matrix figures
are), drawn by ``st.plotly_chart``. The browser loads and compiles Streamlit's plotly
library (a 4.7 MB script) in every fresh session that shows a chart: that cost is in the
second figure and in every story step that has a chart.
"""

import plotly.graph_objects as go
import streamlit as st

st.title("Floor")
st.markdown("A bare page: what Streamlit itself takes to open.")
if st.query_params.get("chart") == "1":
    z = [[1, 2, 1, 2], [2, 4, 2, 4], [1, 2, 1, 2], [2, 4, 2, 4]]
    st.plotly_chart(go.Figure(go.Heatmap(z=z, texttemplate="%{z}")), key="floor-chart")
