/* When the login session ends while a page is open (the 8-hour limit, a logout in another tab, a removed
 * user), Dash's own requests answer 401 (dashboard/auth.py): send the person to the login form, which
 * brings them back to this page. Without login nothing answers 401 and this does nothing.
 */
(function () {
    var original = window.fetch;
    if (!original) {
        return;
    }
    var leaving = false;

    function loginUrl() {
        var prefix = "/";
        try {
            var config = JSON.parse(document.getElementById("_dash-config").textContent);
            prefix = config.requests_pathname_prefix || "/";
        } catch (e) {
            prefix = "/";
        }
        var here = window.location.pathname + window.location.search;
        return prefix + "login?next=" + encodeURIComponent(here);
    }

    window.fetch = function () {
        return original.apply(this, arguments).then(function (response) {
            var own = response.url.indexOf(window.location.origin + "/") === 0;
            if (response.status === 401 && own && !leaving) {
                leaving = true;
                window.location.assign(loginUrl());
            }
            return response;
        });
    };
})();
