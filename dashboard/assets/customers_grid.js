/* The Customers grid (dash-ag-grid, infinite row model) in the browser.
 *
 * - customersFormat: how numbers read in the grid's cells (used by the column definitions).
 * - refresh: after a filter change, drop the grid's blocks and go back to the top, so the next block the
 *   grid asks the server for carries the new filters (the at-risk preset clears the sort instead: the list
 *   has its own ranking, and a sort change makes the grid ask again by itself).
 * - url: the server's canonical query (filters, sort) plus its column choice, written with replaceState
 *   (as assets/url_state.js does, which also feeds the navbar's shared-query); the scroll position is kept in `page` (page=N: row (N-1)*25 on top),
 *   written only when the grid stops scrolling (customersScrolled).
 * The server validates every value; this file only reads the grid's own state.
 */
(function () {
    "use strict";
    var GRID = "customers-grid";
    var PAGE = 25;

    function gridApi() {
        try {
            return window.dash_ag_grid.getApi(GRID);
        } catch (e) {
            return null; // not rendered yet, or another page
        }
    }

    function format(value, kind) {
        if (value === null || value === undefined || value === "" || isNaN(Number(value))) {
            return "";
        }
        var n = Number(value);
        if (kind === "money") {
            return n.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
        }
        if (kind === "percent") {
            return (n * 100).toLocaleString("en-US", {minimumFractionDigits: 1, maximumFractionDigits: 1}) + "%";
        }
        return Math.round(n).toLocaleString("en-US");
    }

    function topPage(api) {
        var first = api.getDisplayedRowAtIndex(0);
        var height = first && first.rowHeight ? first.rowHeight : 0;
        if (!height) {
            return 1;
        }
        return Math.floor(Math.round(api.getVerticalPixelRange().top / height) / PAGE) + 1;
    }

    function withoutPage(query) {
        return query.split("&").filter(function (part) {
            return part !== "" && part.indexOf("page=") !== 0;
        });
    }

    function write(path, parts, page, share) {
        if (page > 1) {
            parts = parts.concat(["page=" + page]);
        }
        var search = parts.length ? "?" + parts.join("&") : "";
        if (window.location.pathname !== path) {
            return;
        }
        var changed = window.location.search !== search;
        if (changed) {
            window.history.replaceState(window.history.state, "", path + search + window.location.hash);
        }
        if ((changed || share) && window.dash_clientside.set_props) {
            // the navbar links carry the filters from the shell's shared-query store (assets/nav.js)
            window.dash_clientside.set_props("shared-query", {data: parts.join("&")});
        }
    }

    function currentPage() {
        var match = /(?:^|[?&])page=(\d+)/.exec(window.location.search);
        return match ? parseInt(match[1], 10) : 1;
    }

    var agFunctions = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});
    agFunctions.customersFormat = format;
    agFunctions.customersScrolled = function (params) {
        if (params && params.api && document.getElementById(GRID)) {
            var query = window.location.search.replace(/^\?/, "");
            write(window.location.pathname, withoutPage(query), topPage(params.api), false);
        }
    };
    agFunctions.customersSorted = function (params) {
        if (params && params.api && params.source === "uiColumnSorted") {
            params.api.ensureIndexVisible(0, "top"); // a new sort starts at the top, as a new filter does
        }
    };

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        customers_grid: {
            refresh: function () {
                var noUpdate = window.dash_clientside.no_update;
                var api = gridApi();
                if (!api) {
                    return noUpdate;
                }
                var fired = (window.dash_clientside.callback_context || {}).triggered || [];
                var atRisk = fired.some(function (t) {
                    return t.prop_id === "customers-preset.value" && t.value === "at-risk";
                });
                api.ensureIndexVisible(0, "top");
                var sorted = api.getColumnState().some(function (c) {
                    return c.sort;
                });
                if (atRisk && sorted) {
                    api.applyColumnState({defaultState: {sort: null}});
                } else {
                    api.purgeInfiniteCache();
                }
                return noUpdate;
            },
            url: function (state, cols) {
                var noUpdate = window.dash_clientside.no_update;
                if (!state || typeof state.path !== "string" || typeof state.query !== "string") {
                    return noUpdate;
                }
                var parts = withoutPage(state.query);
                if (typeof cols === "string" && cols) {
                    parts.push(cols);
                }
                write(state.path, parts, currentPage(), true);
                return noUpdate;
            },
            toggle: function (clicks, isOpen) {
                return !isOpen;
            }
        }
    });
})();
