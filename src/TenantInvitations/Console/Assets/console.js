// Polish only: every action works without this file. Counts down disabled Resend buttons and enables them when due, counting
// from the page's load by the seconds the server gave (so the browser's clock can't disagree with the service's).
(function () {
  "use strict";
  function words(ms) {
    var s = Math.ceil(ms / 1000);
    if (s < 60) return "in " + s + (s === 1 ? " second" : " seconds");
    var m = Math.round(s / 60);
    if (m < 60) return "in " + m + (m === 1 ? " minute" : " minutes");
    var h = Math.round(m / 60);
    return "in " + h + (h === 1 ? " hour" : " hours");
  }
  var loaded = Date.now();
  function tick() {
    var now = Date.now();
    document.querySelectorAll("button[data-enable-in]").forEach(function (button) {
      var at = loaded + 1000 * Number(button.getAttribute("data-enable-in"));
      var label = button.form && button.form.querySelector("time[data-countdown]");
      if (at <= now) {
        button.disabled = false;
        button.removeAttribute("data-enable-in");
        if (label) label.parentNode.textContent = "available now";
      } else if (label) {
        label.textContent = words(at - now);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
