"""The story: the blog post's whole argument as live steps, ready for a meeting."""

import streamlit as st

from ui.common import explain, presenting, route_through_dashboard
from ui.story import render_step, step_controls

route_through_dashboard()

if not presenting():  # presenting, the step's own heading is the title (one step, one screen)
    st.title("The story")
explain(
    "The post's argument, one live view at a time: step with Previous / Next, or open "
    "`?step=N` directly. Turn on **Presentation mode** in the sidebar for a projector."
)
render_step(step_controls())
