/* The navbar's menu on narrow screens (dashboard/nav_menu.py): the toggler flips it open or shut;
 * a link click or any change of address closes it, so the page one navigated to is not hidden under it.
 */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    nav_menu: {
        toggle: function (togglerClicks, linkClicks, pathname, search, isOpen) {
            var triggered = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
                return t.prop_id;
            });
            if (triggered.indexOf("navbar-toggler.n_clicks") >= 0) {
                return !isOpen;
            }
            return false;
        }
    }
});
