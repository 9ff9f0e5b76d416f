/*! Candor embed: in-page prompts and onsite offers. Plain JavaScript, no build step.
 * Load with <script async src="https://candor.example/embed.js"></script>, then
 * Candor.init({key: 'cnd_pk_…'}); Candor.identify({id, signature}); Candor.track('event');
 * Candor.offers({slot: 'element-id'}). Every decision is made on the server; this script only reports
 * what happens on the page and shows what it is told to. It never throws into the host page, uses no
 * eval, no inline script and no inline style attributes (the stylesheet does the styling). */
(function (window, document) {
  'use strict';
  if (window.Candor && window.Candor.loaded) return;
  var queued = Array.isArray(window.Candor) ? window.Candor : [];
  var script = document.currentScript;
  var base = '';
  try { base = new URL(script.src).origin; } catch (e) { base = ''; }
  var STORE = 'candor_visitor';
  var s = { key: null, visitor: null, locale: 'en', showing: false, seen: {}, timers: [], stylesheet: null, memory: null };

  function noop() {}
  function guard(fn) {
    return function () {
      try { return fn.apply(null, arguments); } catch (e) { return Promise.resolve(null); }
    };
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function attr(node, map) { for (var k in map) node.setAttribute(k, map[k]); return node; }

  function readVisitor() {
    try { return window.localStorage.getItem(STORE); } catch (e) { return s.memory; }
  }
  function writeVisitor(id) {
    s.memory = id;
    try { if (id) window.localStorage.setItem(STORE, id); else window.localStorage.removeItem(STORE); } catch (e) { noop(); }
  }

  // One request to the server. Resolves with the JSON answer, rejects with the problem document.
  function call(path, body) {
    return fetch(base + '/e/v1/' + path, {
      method: 'POST', mode: 'cors', credentials: 'omit', keepalive: path.indexOf('/dismiss') > 0,
      headers: { 'Authorization': 'Bearer ' + s.key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (r.ok) return json;
        json.status = r.status;
        throw json;
      });
    });
  }

  // Calls with the visitor id; a visitor the server no longer knows is replaced once.
  function withVisitor(path, body, retried) {
    return ensureVisitor().then(function (visitor) {
      body = body || {};
      body.visitor = visitor;
      return call(path, body).catch(function (problem) {
        if (!retried && problem && problem.status === 404 && /visitor/.test(problem.detail || '')) {
          writeVisitor(null);
          s.visitor = null;
          return withVisitor(path, body, true);
        }
        throw problem;
      });
    });
  }

  var pending = null;
  function ensureVisitor() {
    if (s.visitor) return Promise.resolve(s.visitor);
    var stored = readVisitor();
    if (stored && /^vis_[0-9a-f]{32}$/.test(stored)) { s.visitor = stored; return Promise.resolve(stored); }
    if (!pending) {
      pending = call('visitors', {}).then(function (json) {
        s.visitor = json.visitor;
        writeVisitor(json.visitor);
        pending = null;
        return json.visitor;
      }, function (problem) { pending = null; throw problem; });
    }
    return pending;
  }

  function pageLocale(asked) {
    var tag = asked || document.documentElement.getAttribute('lang') || navigator.language || 'en';
    return String(tag).toLowerCase().split('-')[0];
  }

  function loadStylesheet() {
    if (s.stylesheet) return s.stylesheet;
    s.stylesheet = new Promise(function (resolve) {
      var link = attr(document.createElement('link'), { rel: 'stylesheet', href: base + '/embed.css' });
      link.onload = resolve;
      link.onerror = resolve;
      (document.head || document.documentElement).appendChild(link);
      setTimeout(resolve, 3000);
    });
    return s.stylesheet;
  }

  // ------------------------------------------------------------------ page signals and decisions

  function clearWatch() {
    s.timers.forEach(function (t) { clearTimeout(t); });
    s.timers = [];
    if (s.onScroll) window.removeEventListener('scroll', s.onScroll);
    if (s.onExit) document.removeEventListener('mouseout', s.onExit);
    s.onScroll = s.onExit = null;
  }

  function decide(extra, path) {
    if (!s.key || s.showing) return Promise.resolve(null);
    var body = { url: window.location.href, locale: s.locale };
    for (var k in extra) body[k] = extra[k];
    return withVisitor(path || 'decide', body).then(handle).catch(function () { return null; });
  }

  function handle(decision) {
    if (!decision) return null;
    if (decision.prompt) {
      clearWatch();
      var prompt = decision.prompt;
      var at = window.location.href;
      var timer = setTimeout(guard(function () {
        if (window.location.href === at && !s.showing) show(prompt);
      }), Math.max(0, prompt.delay_seconds || 0) * 1000);
      s.timers.push(timer);
      return prompt;
    }
    watch(decision.watch || {});
    return null;
  }

  // Reports only the thresholds the server said could matter on this page.
  function watch(w) {
    clearWatch();
    (w.dwell || []).forEach(function (seconds) {
      s.timers.push(setTimeout(guard(function () { decide({ dwell: seconds }); }), seconds * 1000));
    });
    var marks = (w.scroll || []).slice();
    if (marks.length) {
      s.onScroll = guard(function () {
        var root = document.documentElement;
        var height = Math.max(1, root.scrollHeight - window.innerHeight);
        var percent = Math.min(100, Math.round(100 * (window.scrollY || root.scrollTop) / height));
        var reached = marks.filter(function (m) { return percent >= m; });
        if (!reached.length) return;
        marks = marks.filter(function (m) { return percent < m; });
        if (!marks.length) window.removeEventListener('scroll', s.onScroll);
        decide({ scroll: percent });
      });
      window.addEventListener('scroll', s.onScroll, { passive: true });
    }
    if (w.exit_intent) {
      s.onExit = guard(function (e) {
        if (!e.relatedTarget && e.clientY <= 0) {
          document.removeEventListener('mouseout', s.onExit);
          decide({ exit_intent: true });
        }
      });
      document.addEventListener('mouseout', s.onExit);
    }
  }

  // ------------------------------------------------------------------ the prompt dialog

  function show(prompt) {
    s.showing = true;
    return loadStylesheet().then(guard(function () { render(prompt); }));
  }

  function render(p) {
    var t = p.strings || {};
    var opener = document.activeElement;
    var backdrop = el('div', 'candor-backdrop');
    var dialog = attr(el('div', 'candor-dialog'), {
      role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'candor-question', dir: p.dir || 'ltr', lang: p.locale || 'en', tabindex: '-1'
    });
    var close = attr(el('button', 'candor-close', '\u00d7'), { type: 'button', 'aria-label': t.close || 'Close' });
    var form = attr(el('form', 'candor-form'), { novalidate: '' });
    // The intro leads into the question (text only: textContent, never HTML) and describes the dialog.
    if (p.intro) {
      form.appendChild(attr(el('p', 'candor-intro', p.intro), { id: 'candor-intro' }));
      dialog.setAttribute('aria-describedby', 'candor-intro');
    }
    var heading = attr(el('h2', 'candor-question', p.question), { id: 'candor-question' });
    form.appendChild(heading);
    var inputs = answerInputs(p, t);
    form.appendChild(inputs.node);

    var why = el('details', 'candor-why');
    why.appendChild(el('summary', null, t.why || 'Why we ask'));
    (p.notices || []).forEach(function (n) {
      var block = el('div', 'candor-notice');
      block.appendChild(el('p', 'candor-notice-title', n.title));
      block.appendChild(el('p', null, n.why));
      block.appendChild(el('p', null, (t.benefit || 'What you get') + ': ' + n.benefit));
      block.appendChild(el('p', 'candor-small', (t.notice_version || 'notice version') + ' ' + n.version));
      why.appendChild(block);
    });
    form.appendChild(why);

    var status = attr(el('p', 'candor-status'), { role: 'status', 'aria-live': 'polite' });
    var actions = el('div', 'candor-actions');
    var submit = attr(el('button', 'candor-primary', t.submit || 'Save'), { type: 'submit' });
    var later = attr(el('button', 'candor-secondary', t.not_now || 'Not now'), { type: 'button' });
    var never = attr(el('button', 'candor-link', t.dont_ask || "Don't ask me again"), { type: 'button' });
    actions.appendChild(submit);
    actions.appendChild(later);
    form.appendChild(actions);
    form.appendChild(never);
    form.appendChild(status);
    dialog.appendChild(close);
    dialog.appendChild(form);
    backdrop.appendChild(dialog);
    document.body.appendChild(backdrop);

    var done = false;
    function finish() {
      if (done) return;
      done = true;
      document.removeEventListener('keydown', onKey, true);
      if (backdrop.parentNode) backdrop.parentNode.removeChild(backdrop);
      s.showing = false;
      try { if (opener && opener.focus) opener.focus(); } catch (e) { noop(); }
    }
    function dismiss(never) {
      withVisitor('prompts/' + p.id + '/dismiss', { dont_ask_again: !!never }).catch(noop);
      finish();
    }
    function focusables() {
      return Array.prototype.filter.call(dialog.querySelectorAll('button, input, summary, a[href]'), function (n) {
        return !n.disabled && n.offsetParent !== null;
      });
    }
    function onKey(e) {
      if (e.key === 'Escape') { e.preventDefault(); dismiss(false); return; }
      if (e.key !== 'Tab') return;
      var list = focusables();
      if (!list.length) return;
      var first = list[0], last = list[list.length - 1];
      if (e.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) { e.preventDefault(); first.focus(); }
    }
    document.addEventListener('keydown', onKey, true);
    close.addEventListener('click', guard(function () { dismiss(false); }));
    later.addEventListener('click', guard(function () { dismiss(false); }));
    never.addEventListener('click', guard(function () { dismiss(true); }));
    form.addEventListener('submit', guard(function (e) {
      e.preventDefault();
      var value = inputs.value();
      if (value === undefined) { status.textContent = t.error || ''; return; }
      submit.disabled = true;
      var notices = {};
      (p.notices || []).forEach(function (n) { notices[n.purpose] = n.version; });
      withVisitor('prompts/' + p.id + '/answer', { value: value, notices: notices }).then(function () {
        status.textContent = t.thanks || '';
        dialog.classList.add('candor-done');
        setTimeout(finish, 1200);
      }, function (problem) {
        submit.disabled = false;
        var first = problem && problem.errors && problem.errors[0];
        status.textContent = (t.error || '') + (first ? ' (' + first.message + ')' : '');
      });
    }));
    withVisitor('prompts/' + p.id + '/display', {}).catch(noop);
    var firstInput = dialog.querySelector('input');
    (firstInput || dialog).focus();
  }

  // The answer controls for the field's type, and how to read the value back.
  function answerInputs(p, t) {
    var box = el('fieldset', 'candor-answer');
    box.appendChild(attr(el('legend', 'candor-visually-hidden', p.question), {}));
    var name = 'candor-' + p.field;
    function choice(type, value, label) {
      var wrap = el('label', 'candor-option');
      var input = attr(document.createElement('input'), { type: type, name: name, value: value });
      wrap.appendChild(input);
      wrap.appendChild(el('span', null, label));
      box.appendChild(wrap);
    }
    function checked() {
      return Array.prototype.filter.call(box.querySelectorAll('input'), function (i) { return i.checked; }).map(function (i) { return i.value; });
    }
    if (p.type === 'single_choice' || p.type === 'multi_choice') {
      box.classList.add('candor-options');
      (p.options || []).forEach(function (o) { choice(p.type === 'multi_choice' ? 'checkbox' : 'radio', o.value, o.label); });
      return { node: box, value: function () {
        var picked = checked();
        if (!picked.length) return undefined;
        return p.type === 'multi_choice' ? picked : picked[0];
      } };
    }
    if (p.type === 'boolean') {
      box.classList.add('candor-options');
      choice('radio', 'true', t.yes || 'Yes');
      choice('radio', 'false', t.no || 'No');
      return { node: box, value: function () { var v = checked()[0]; return v === undefined ? undefined : v === 'true'; } };
    }
    var input = attr(document.createElement('input'), {
      type: p.type === 'number' ? 'number' : (p.type === 'date' ? 'date' : 'text'), name: name, 'aria-labelledby': 'candor-question', 'class': 'candor-input'
    });
    if (p.minimum != null) input.setAttribute('min', p.minimum);
    if (p.maximum != null) input.setAttribute('max', p.maximum);
    if (p.max_length != null) input.setAttribute('maxlength', p.max_length);
    if (p.type === 'number') input.setAttribute('inputmode', 'decimal');
    box.appendChild(input);
    return { node: box, value: function () {
      var text = input.value.trim();
      if (!text) return undefined;
      if (p.type !== 'number') return text;
      var n = Number(text);
      return isFinite(n) ? n : undefined;
    } };
  }

  // ------------------------------------------------------------------ onsite offers

  var offerCount = 0;
  function offers(options) {
    options = options || {};
    var slot = typeof options.slot === 'string' ? document.getElementById(options.slot) : options.slot;
    if (!slot || !s.key) return Promise.resolve(null);
    var body = { url: window.location.href, locale: s.locale };
    if (options.limit) body.limit = options.limit;
    return Promise.all([withVisitor('offers', body), loadStylesheet()]).then(function (all) {
      var answer = all[0];
      renderOffers(slot, answer);
      return answer;
    }).catch(function () { return null; });
  }

  function renderOffers(slot, a) {
    while (slot.firstChild) slot.removeChild(slot.firstChild);
    if (!a.offers || !a.offers.length) return;
    var t = a.strings || {};
    var section = attr(el('section', 'candor-offers'), { dir: a.dir || 'ltr', lang: a.locale || 'en', 'aria-label': t.offers_heading || 'Offers' });
    section.appendChild(el('h2', 'candor-offers-title', t.offers_heading || ''));
    var list = el('ul', 'candor-offer-list');
    a.offers.forEach(function (o) {
      var id = 'candor-why-' + (++offerCount);
      var item = el('li', 'candor-offer');
      var main = el('div', 'candor-offer-main');
      main.appendChild(el('h3', 'candor-offer-title', o.title));
      if (o.body) main.appendChild(el('p', 'candor-offer-body', o.body));
      item.appendChild(main);
      var button = attr(el('button', 'candor-why-button', t.why_offer || 'Why am I seeing this?'), { type: 'button', 'aria-expanded': 'false', 'aria-controls': id });
      var why = attr(el('div', 'candor-why-offer'), { id: id, hidden: '' });
      (o.why || []).forEach(function (line) { why.appendChild(el('p', null, line)); });
      if (a.preferences_url) why.appendChild(attr(el('a', 'candor-preferences', t.preferences || ''), { href: a.preferences_url }));
      button.addEventListener('click', guard(function () {
        var open = button.getAttribute('aria-expanded') === 'true';
        button.setAttribute('aria-expanded', open ? 'false' : 'true');
        if (open) why.setAttribute('hidden', ''); else why.removeAttribute('hidden');
      }));
      main.addEventListener('click', guard(function () { outcome(a.decision_id, o.offer_id, 'click'); }));
      item.appendChild(button);
      item.appendChild(why);
      list.appendChild(item);
      outcome(a.decision_id, o.offer_id, 'impression');
    });
    section.appendChild(list);
    slot.appendChild(section);
  }

  function outcome(decision, offer, type) {
    if (!decision) return;
    withVisitor('decisions/' + decision + '/outcomes', { type: type, offer_id: offer }).catch(noop);
  }

  // ------------------------------------------------------------------ the public API

  var Candor = {
    loaded: true,
    init: guard(function (options) {
      options = options || {};
      if (!options.key || String(options.key).indexOf('cnd_pk_') !== 0) return Promise.resolve(false);
      s.key = options.key;
      s.locale = pageLocale(options.locale);
      if (options.page === false) return ensureVisitor().then(function () { return true; }, function () { return false; });
      return decide({}).then(function () { return true; });
    }),
    page: guard(function () { clearWatch(); return decide({}); }),
    identify: guard(function (who) {
      if (!s.key || !who || !who.id || !who.signature) return Promise.resolve(false);
      return withVisitor('identify', { id: String(who.id), signature: String(who.signature) }).then(function () {
        if (!s.showing) { clearWatch(); decide({}); }
        return true;
      }, function () { return false; });
    }),
    track: guard(function (event) {
      if (!s.key || !event) return Promise.resolve(null);
      return decide({ event: String(event) }, 'track');
    }),
    offers: guard(offers),
    reset: guard(function () { clearWatch(); writeVisitor(null); s.visitor = null; return Promise.resolve(true); })
  };
  window.Candor = Candor;
  queued.forEach(function (entry) {
    if (entry && Candor[entry[0]]) Candor[entry[0]](entry[1]);
  });
  if (script && script.getAttribute('data-candor-key')) Candor.init({ key: script.getAttribute('data-candor-key') });
  try { window.dispatchEvent(new Event('candor:ready')); } catch (e) { noop(); }
})(window, document);
