// Polish only: every action works without this file. Copies secrets, and counts down disabled Resend buttons and enables them when due, counting
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
  // The Copy button beside a secret; without script the field is still selectable.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    field.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
