// The link page: poll while the song is being fetched, then open its job page or show why it
// failed. Without this script the page refreshes itself instead.
(function () {
  "use strict";
  var link = document.getElementById("link");
  if (!link || link.dataset.state !== "fetching") return;
  var delay = 1000;
  function poll() {
    fetch(link.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        delay = 1000;
        if (data.redirect) { window.location.assign(data.redirect); return; }
        if (data.finished) { window.location.reload(); return; }
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // A network hiccup: keep trying, more slowly.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
