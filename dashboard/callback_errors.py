"""One rule for every server callback: a vanished file (NoData) or a query timeout (QueryTimeout) becomes
the page's own message or "no change", never an HTTP 500 (issue 11, item 7).

Wrap a callback between `@callback(...)` and `def`:

    @callback(Output("x", "figure"), Input("y", "value"))
    @callback_errors.answers(lambda message: figures.empty_figure(message))
    def update(value): ...

The fallback gets one sentence and returns the callback's outputs; without a fallback the callback answers
"no update" (204), for callbacks whose outputs are controls and have nowhere to show a sentence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from dash.exceptions import PreventUpdate

from dashboard.queries import NoData, QueryTimeout

NO_RUN = "No segmentation run yet."
RETRY = "Narrow the filters, or try again in a moment."

F = TypeVar("F", bound=Callable[..., Any])


def message(exc: NoData | QueryTimeout) -> str:
    """The sentence a page shows for a missing file/run or a query that ran too long."""
    if isinstance(exc, QueryTimeout):
        return f"{exc} {RETRY}"
    return NO_RUN


def answers(fallback: Callable[[str], Any] | None = None) -> Callable[[F], F]:
    """Decorate a callback: NoData and QueryTimeout give fallback(sentence), or no update without one."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except (NoData, QueryTimeout) as exc:
                if fallback is None:
                    raise PreventUpdate from None
                return fallback(message(exc))

        return wrapper  # type: ignore[return-value]

    return decorate
