// Registry pages: a "Copy" button next to a secret shown once (a new API key, a new operator's password).
// Progressive enhancement only: without this script the secret is still selectable in its code block.
(function () {
  "use strict";
  document.querySelectorAll("pre.reg-code[data-copy-label]").forEach(function (block) {
    if (!navigator.clipboard) { return; }
    var code = block.querySelector("code");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button reg-copy";
    button.textContent = block.getAttribute("data-copy-label");
    var status = document.createElement("span");
    status.className = "reg-hint reg-copy-status";
    status.setAttribute("role", "status");
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(code.textContent.trim()).then(function () {
        status.textContent = block.getAttribute("data-copied-label");
      }, function () {
        status.textContent = "";
      });
    });
    var row = document.createElement("p");
    row.className = "reg-copy-row";
    row.appendChild(button);
    row.appendChild(status);
    block.insertAdjacentElement("afterend", row);
  });
})();
