// qualevents console: load the parts of a source's page that wait on the warehouse
// (checks, preview, daily chart, experiments) into the page, showing that they are
// working; "Check again now" loads a fresh check the same way. Without
// this script each part is a link to its own page.
(function () {
  "use strict";
  function load(box, url) {
    var link = box.innerHTML;
    box.setAttribute("aria-busy", "true");
    box.setAttribute("aria-live", "polite");
    box.innerHTML = "";
    var sep = url.indexOf("?") < 0 ? "?" : "&";
    fetch(url + sep + "fragment=1", { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () {
        box.innerHTML = '<p class="notice">Could not load this part. </p>' + link;
      })
      .then(function () { box.removeAttribute("aria-busy"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-load]");
    for (var i = 0; i < boxes.length; i++) { load(boxes[i], boxes[i].getAttribute("data-load")); }
    // parts loaded only when asked (a check that has a kept report already)
    var asked = document.querySelectorAll("[data-load-on-click]");
    for (var j = 0; j < asked.length; j++) {
      asked[j].addEventListener("click", function (event) {
        if (event.target.tagName !== "A") { return; }
        event.preventDefault();
        load(this, this.getAttribute("data-load-on-click"));
      });
    }
  });
})();
