"""<option> lists for the cluster filters: a sector can have thousands of clusters, and building the
options in one Python join is several times cheaper than a template loop over them."""

from __future__ import annotations

from markupsafe import Markup, escape


def cluster_options(clusters, selected: int | None) -> Markup:
    """``<option>`` elements for (id, name) pairs, the ``selected`` id marked."""
    return Markup("".join(
        f'<option value="{cid}"{" selected" if cid == selected else ""}>{escape(name)}</option>'
        for cid, name in clusters))
