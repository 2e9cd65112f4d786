/* Filter state -> address bar, without re-rendering the page.
 *
 * A page's server callback returns {path, query}: its own path and the canonical query (Filters.to_query).
 * Writing it with history.replaceState keeps the URL bookmarkable and reload-safe; changing dcc.Location's
 * search instead would make the Pages router re-render the page (and close an open dropdown). A late
 * answer for a page the user has already left is ignored (the path no longer matches). The query also goes
 * to the shell's `shared-query` store, from which the navbar links carry the filters to the other pages.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    url_state: {
        replace: function (state) {
            var noUpdate = window.dash_clientside.no_update;
            if (!state || typeof state.path !== "string" || typeof state.query !== "string") {
                return noUpdate;
            }
            if (window.location.pathname !== state.path) {
                return noUpdate;
            }
            var search = state.query ? "?" + state.query : "";
            if (window.location.search !== search) {
                window.history.replaceState(
                    window.history.state, "", state.path + search + window.location.hash
                );
            }
            window.dash_clientside.set_props("shared-query", {data: state.query});
            return noUpdate;
        }
    }
});
