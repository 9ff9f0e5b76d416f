// Candor console, delivery pages: progressive enhancement of the automation form. Without this script
// every input of every action slot and every trigger filter is shown (and the server ignores what does
// not apply); with it, each slot shows only the inputs of its chosen action, and only the filter of the
// chosen event is shown. Plain JavaScript, no build step.
(function () {
  "use strict";
  var form = document.getElementById("automation-form");
  if (!form) { return; }

  function listed(element, attribute, value) {
    return (element.getAttribute(attribute) || "").split(" ").indexOf(value) !== -1;
  }

  function showSlot(select) {
    var slot = select.closest(".dl-slot");
    if (!slot) { return; }
    slot.querySelectorAll(".dl-part").forEach(function (part) {
      part.hidden = !listed(part, "data-types", select.value);
    });
    slot.classList.toggle("dl-slot-empty", select.value === "");
  }

  function showFilters() {
    var event = form.querySelector("#event");
    if (!event) { return; }
    form.querySelectorAll("fieldset[data-event]").forEach(function (fieldset) {
      // A filter that has a ticked box or an error stays visible, so nothing chosen is ever hidden.
      var keep = fieldset.querySelector("input:checked, [aria-invalid=true]") !== null;
      fieldset.hidden = !keep && !listed(fieldset, "data-event", event.value);
    });
  }

  form.querySelectorAll("select.dl-action-type").forEach(function (select) {
    showSlot(select);
    select.addEventListener("change", function () { showSlot(select); });
  });
  var event = form.querySelector("#event");
  if (event) {
    showFilters();
    event.addEventListener("change", showFilters);
  }
})();
