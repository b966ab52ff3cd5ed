"""<option> lists for the cluster filters: a sector can have thousands of clusters, and building the
options in one Python join is several times cheaper than a template loop over them."""

from __future__ import annotations

from typing import Callable

from markupsafe import Markup, escape


class StoredOptions:
    """A sector's cluster choices, loaded only when no stored copy serves (app.page_cache): every view of
    a list page (each filter, sort and page) shares one copy per sector and selection."""

    def __init__(self, name: str, sector_id: int, load: Callable[[], list]):
        self.name, self.sector_id, self.load = name, sector_id, load

    def render(self, selected: int | None) -> Markup:
        from app import page_cache

        return page_cache.part(self.name, lambda: _options(self.load(), selected),
                               vary=(self.sector_id, selected), shared=True)


def cluster_options(clusters, selected: int | None) -> Markup:
    """``<option>`` elements for (id, name) pairs (or StoredOptions), the ``selected`` id marked."""
    if isinstance(clusters, StoredOptions):
        return clusters.render(selected)
    return _options(clusters, selected)


def _options(clusters, selected: int | None) -> Markup:
    return Markup("".join(
        f'<option value="{cid}"{" selected" if cid == selected else ""}>{escape(name)}</option>'
        for cid, name in clusters))
