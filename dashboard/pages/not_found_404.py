"""The page shown for an unknown path."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

dash.register_page(__name__, path="/404", name="Not found", title="Not found · Customer segments")


def layout(**_query: Any) -> html.Div:
    """A short 'not found' message with a link back to the Overview."""
    return html.Div(
        [
            html.H1("Page not found", className="h3"),
            html.P("There is no page at this address.", className="text-body-secondary"),
            dcc.Link("Go to the Overview", href=dash.get_relative_path("/")),
        ],
        className="my-5 text-center",
        id="not-found",
    )
