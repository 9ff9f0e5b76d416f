/* Candor console, collection pages: small enhancements only; every page works without this script.
 * - The survey builder's prompt preview follows the wording as it is typed (the preview page is
 *   drawn by the server from query parameters; nothing is saved or counted).
 * - The incentive pool page reads a chosen .csv/.txt file into the codes box, to check before upload. */
(function () {
  'use strict';

  function previewFollowsTyping() {
    var frames = document.querySelectorAll('iframe[data-preview-frame]');
    if (!frames.length) return;
    var base = {};
    Array.prototype.forEach.call(frames, function (frame) { base[frame.getAttribute('data-preview-frame')] = frame.getAttribute('src'); });
    var timer = null;
    function refresh() {
      var field = document.getElementById('prompt_field');
      Array.prototype.forEach.call(frames, function (frame) {
        var lang = frame.getAttribute('data-preview-frame');
        var url = new URL(base[lang], window.location.href);
        document.querySelectorAll('[data-preview][data-preview-lang="' + lang + '"]').forEach(function (input) {
          url.searchParams.set(input.getAttribute('data-preview'), input.value);
        });
        if (field && field.value) url.searchParams.set('field', field.value);
        frame.setAttribute('src', url.pathname + url.search);
      });
    }
    function later() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    }
    document.querySelectorAll('[data-preview]').forEach(function (input) { input.addEventListener('input', later); });
    var field = document.getElementById('prompt_field');
    if (field) field.addEventListener('change', later);
  }

  function codesFromFile() {
    var box = document.querySelector('[data-codes-file]');
    var codes = document.getElementById('codes');
    if (!box || !codes || !window.FileReader) return;
    var input = box.querySelector('input[type="file"]');
    var limit = Number(input.getAttribute('data-max-bytes')) || 1048576;
    box.hidden = false;
    input.addEventListener('change', function () {
      var file = input.files && input.files[0];
      if (!file) return;
      if (file.size > limit) {
        input.setCustomValidity(String(limit) + ' bytes');
        input.reportValidity();
        return;
      }
      input.setCustomValidity('');
      var reader = new FileReader();
      reader.onload = function () { codes.value = String(reader.result || ''); codes.focus(); };
      reader.readAsText(file);
    });
  }

  // Inputs that only matter for one choice (a redirect's URL, a pool, a scroll depth…) are shown only
  // with that choice. Without the script all of them show; one holding an error is never hidden.
  function showOnlyWhatMatters() {
    var parts = document.querySelectorAll('[data-show-when]');
    if (!parts.length) return;
    function update() {
      Array.prototype.forEach.call(parts, function (part) {
        var control = document.getElementById(part.getAttribute('data-show-when'));
        if (!control) return;
        var wanted = part.getAttribute('data-show-values').split(' ');
        var keep = wanted.indexOf(control.value) >= 0 || part.querySelector('[aria-invalid="true"]');
        part.hidden = !keep;
      });
    }
    var controls = {};
    Array.prototype.forEach.call(parts, function (part) { controls[part.getAttribute('data-show-when')] = true; });
    Object.keys(controls).forEach(function (id) {
      var control = document.getElementById(id);
      if (control) control.addEventListener('change', update);
    });
    update();
  }

  showOnlyWhatMatters();
  previewFollowsTyping();
  codesFromFile();
})();
