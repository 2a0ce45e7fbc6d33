// The split form (templates/events/form.html): a member's "relationship to the new head" box
// shows only while the member is ticked as leaving, so that nobody wonders whether those who
// stay need one. Without this script every box shows and the server ignores the unticked ones.
(function () {
  "use strict";
  function init() {
    document.querySelectorAll("[data-split-member]").forEach(function (row) {
      var tick = row.querySelector("input[type=checkbox]");
      var rel = row.querySelector("[data-split-rel]");
      if (!tick || !rel) return;
      var sync = function () { rel.hidden = !tick.checked; };
      tick.addEventListener("change", sync);
      sync();
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
