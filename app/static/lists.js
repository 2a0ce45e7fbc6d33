// The list import's page (templates/lists/show.html): while the import or a pre-fill of
// households runs ("busy"), ask its state every two seconds and show the counts; when it has
// ended, load the page again for its links.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box) return;
  var url = box.getAttribute("data-status-url");

  function show(status) {
    Object.keys(status).forEach(function (name) {
      var el = box.querySelector('[data-field="' + name + '"]');
      if (el) el.textContent = String(status[name]);
    });
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (status) {
        show(status);
        if (status.busy) setTimeout(poll, 2000);
        else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 5000); });  // a dropped connection: try again, slower
  }

  setTimeout(poll, 1000);
})();
