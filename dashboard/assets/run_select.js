/* The run selector's two browser steps (dashboard/run_select.py explains the round trip).
 *
 * request: when the selector moves away from the page's run, send the real address (pages rewrite it
 * with history.replaceState, which dcc.Location never sees) so the server can carry the filters over.
 * go: push the server's answer the way dcc.Link does, so every dcc.Location re-reads the address and
 * the Pages router renders the page on the new run.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    run_select: {
        request: function (value, current) {
            var noUpdate = window.dash_clientside.no_update;
            if (typeof value !== "number" || value === current) {
                return noUpdate;
            }
            return {
                path: window.location.pathname,
                search: window.location.search,
                from: current,
                to: value
            };
        },
        go: function (target) {
            var noUpdate = window.dash_clientside.no_update;
            if (typeof target !== "string" || target.charAt(0) !== "/" || target.charAt(1) === "/") {
                return noUpdate;
            }
            window.history.pushState({}, "", target);
            window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
            return noUpdate;
        }
    }
});
