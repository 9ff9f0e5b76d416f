/* The demo shop's own script: starts the Candor embed with the shop's publishable key, identifies the
   signed-in customer with the signature the shop's server put into the page, and fills the offers slot. */
(function () {
  'use strict';
  var data = document.body.dataset;
  function start() {
    var Candor = window.Candor;
    var ready = data.signedOut ? Candor.reset() : Promise.resolve(true);
    ready.then(function () {
      return Candor.init({ key: data.candorKey, locale: data.locale, page: false });
    }).then(function () {
      return data.candorUser ? Candor.identify({ id: data.candorUser, signature: data.candorSignature }) : Candor.page();
    }).then(function () {
      if (data.candorUser) Candor.offers({ slot: 'offers' });
    });
    var add = document.getElementById('add-to-cart');
    if (add) {
      add.addEventListener('click', function () {
        document.getElementById('cart-status').textContent = data.added;
        Candor.track('added_to_cart');
      });
    }
  }
  if (window.Candor && window.Candor.loaded) start();
  else window.addEventListener('candor:ready', start);
})();
