// Candor console, activation pages: the segment rule editor's live check.
// Progressive enhancement only: without this script the "Check" button does the same on the server.
// As the operator types, the rule is posted (session cookie + the form's CSRF token, like any form)
// to /console/segments/check, which answers {count} or {error: {line, column, message}}; the status
// line (aria-live) and the caret under the wrong character follow.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  var rule = document.getElementById("rule");
  var status = document.getElementById("rule-status");
  var marker = document.getElementById("rule-marker");
  if (!form || !rule || !status || !marker || !window.fetch) { return; }
  var url = form.getAttribute("data-check");
  var csrf = form.querySelector("input[name=csrf]").value;
  var lang = document.documentElement.lang || "en";
  var numbers = window.Intl ? new Intl.NumberFormat(lang) : null;
  var timer = null;
  var latest = 0;

  function words(name) { return status.getAttribute("data-" + name) || ""; }

  function fill(template, values) {
    return template.replace(/%(\d)/g, function (_, n) { return values[Number(n) - 1]; });
  }

  function show(text, kind) {
    status.textContent = text;
    status.classList.remove("act-ok", "act-bad");
    if (kind) { status.classList.add(kind); }
  }

  function clearMarker() {
    marker.hidden = true;
    rule.removeAttribute("aria-invalid");
  }

  // The caret sits under the character the parser names; columns count Unicode code points,
  // which is what Array.from splits a string into.
  function showMarker(text, line, column) {
    var lines = text.split("\n");
    var shown = Array.from(lines[line - 1] || "");
    var padding = "";
    for (var i = 0; i < column - 1; i++) { padding += shown[i] === "\t" ? "\t" : " "; }
    marker.querySelector(".act-marker-line").textContent = shown.join("");
    marker.querySelector(".act-caret").textContent = padding + "^";
    marker.hidden = false;
    rule.setAttribute("aria-invalid", "true");
  }

  function check() {
    var text = rule.value;
    var ticket = ++latest;
    if (text.trim() === "") {
      clearMarker();
      show(words("idle"), null);
      return;
    }
    show(words("checking"), null);
    var body = new URLSearchParams();
    body.set("csrf", csrf);
    body.set("rule", text);
    fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        if (ticket !== latest) { return; } // a newer keystroke's answer is on its way
        if (answer.error) {
          showMarker(text, answer.error.line, answer.error.column);
          show(fill(words("error"), [answer.error.line, answer.error.column, answer.error.message]), "act-bad");
        } else {
          clearMarker();
          show(fill(words("count"), [numbers ? numbers.format(answer.count) : String(answer.count)]), "act-ok");
        }
      })
      .catch(function () {
        if (ticket === latest) { show(words("failed"), "act-bad"); }
      });
  }

  rule.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(check, 250);
  });
})();
