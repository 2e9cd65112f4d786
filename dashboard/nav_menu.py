"""The navbar's menu on narrow screens: the toggler opens and closes it, and any navigation closes it.

components.navbar folds the page links and the run selector into `navbar-collapse` below the xl breakpoint;
this module wires the toggler (clientside, assets/nav_menu.js: no round trip to open a menu). A link, the
brand or a run switch changes the URL, and the menu closes so the new page is not hidden behind it. At xl
and wider Bootstrap shows the collapse whatever `is_open` says.
"""

from __future__ import annotations

import dash
from dash import ALL, ClientsideFunction, Input, Output, State


def register(app: dash.Dash) -> None:
    """The menu's callback, on the app itself (not dash.callback) so it belongs to this app only."""
    app.clientside_callback(
        ClientsideFunction(namespace="nav_menu", function_name="toggle"),
        Output("navbar-collapse", "is_open"),
        Input("navbar-toggler", "n_clicks"),
        Input({"type": "nav-link", "index": ALL}, "n_clicks"),
        Input("url", "pathname"),
        Input("url", "search"),
        State("navbar-collapse", "is_open"),
        prevent_initial_call=True,
    )
