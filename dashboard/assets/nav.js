/* The navbar links: every page on the current run, and the filter pages with the current filters.
 *
 * config (dashboard/run_select.py nav_config): {paths: {module: path}, filter_pages: [module], keys: [key]}.
 * query: the current page's query string (from the URL, kept current by url_state.js).
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    nav: {
        hrefs: function (run, query, ids, config) {
            var paths = (config && config.paths) || {};
            var filterPages = (config && config.filter_pages) || [];
            var keys = (config && config.keys) || [];
            var shared = [];
            new URLSearchParams(typeof query === "string" ? query : "").forEach(function (value, key) {
                if (keys.indexOf(key) >= 0) {
                    shared.push([key, value]);
                }
            });
            return (ids || []).map(function (id) {
                var module = id && id.index;
                var path = paths[module] || "/";
                var params = new URLSearchParams();
                if (typeof run === "number") {
                    params.append("run", String(run));
                }
                if (filterPages.indexOf(module) >= 0) {
                    shared.forEach(function (pair) { params.append(pair[0], pair[1]); });
                }
                var search = params.toString();
                return search ? path + "?" + search : path;
            });
        }
    }
});
