"""Training gallery: watch checkerboard artifacts appear epoch by epoch (the post's Figure 5)."""

import streamlit as st

from ui.catalog import (
    checkpoint_root,
    heldout,
    heldout_digests,
    load_catalog,
    show_catalog_problems,
)
from ui.common import explain, lazy_section, presenting, route_through_dashboard
from ui.gallery import (
    gallery_controls,
    gif_bytes,
    grid_png,
    play_ticker,
    render_curves,
    render_filmstrip,
    render_grid,
    render_look,
    render_magnifier,
)
from ui.life import render_choice, render_life
from ui.pixels import show_pixels

route_through_dashboard()

st.title("Training gallery")
explain(
    "Networks that differ only in their upsampling layers, trained with the same data, "
    "seed and budget to reproduce their input (a pixel loss), shown on photographs they "
    "never saw. The learnt transposed convolutions (`deconv3`, `deconv4`) paint a "
    "checkerboard from the first epoch on (the post's Figure 5); resize-convolution does "
    "not. Every setting is kept in the URL."
)

catalog = load_catalog()
show_catalog_problems(catalog)
images, digests = heldout(), heldout_digests()

if catalog.empty:
    cols = st.columns(len(images))
    for col, (name, image) in zip(cols, images.items(), strict=True):
        with col:
            show_pixels(image, f"{name} (held-out photograph)", key=digests[name])
    st.stop()

look = st.container()  # the grid on the first screen, above the controls that choose it
settings = gallery_controls(catalog, images, digests)
if not settings.variants:
    st.info("Choose at least one variant above.")
image, digest = images[settings.image], digests[settings.image]
with look:
    render_look(catalog, settings, image, digest)
# The magnifier first: the artifact on the first screen, before the full-size grid.
render_magnifier(catalog, settings, image, digest)
outputs = render_grid(catalog, settings, images, digests)
frames = []
if settings.film:
    frames = render_filmstrip(catalog, settings.film, settings, image, digest)
render_curves(catalog, settings)

choice = lazy_section("What should I use? Sharpness against checkerboard, every variant",
                      "choose", in_url=True)
with choice:
    if choice.open:  # charts on demand, as below
        render_choice(checkpoint_root())

if not presenting():  # presenting, the download buttons are hidden: no empty heading
    st.subheader("Downloads")  # built only when clicked (deferred)
left, right = st.columns(2)
left.download_button(
    "Grid as PNG", data=lambda: grid_png(images, outputs), file_name=f"gallery-epoch{settings.epoch}.png",
    mime="image/png", key="download-grid", icon=":material/download:",
    disabled=not outputs,
)
if frames:
    right.download_button(
        f"{settings.film} epochs as GIF",
        data=lambda: gif_bytes(frames),
        file_name=f"{settings.film}-{settings.image}-epochs.gif", mime="image/gif",
        key="download-gif", icon=":material/animation:",
    )

life = lazy_section("The artifacts' life: deconv3's extra checkerboard, epoch by epoch", "life",
                    in_url=True)
with life:
    if life.open:  # charts on demand: each costs a new visitor's browser seconds of CPU
        render_life(checkpoint_root())

play_ticker(catalog)
