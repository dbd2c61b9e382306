// The kiosk's only script: put the tiles the server rendered in place, and say
// "station not running" the moment the events stop (no stale green tile stays on screen).
(function () {
  "use strict";
  var body = document.body;
  var tiles = document.getElementById("tiles");
  var down = document.getElementById("down");
  var staleMs = Number(body.dataset.staleSeconds) * 1000;
  var last = Date.now();

  function setDown(isDown) {
    down.hidden = !isDown;
    body.classList.toggle("is-down", isDown);
  }

  var events = new EventSource(body.dataset.events);
  events.addEventListener("tiles", function (e) {
    var msg = JSON.parse(e.data);
    tiles.innerHTML = msg.html; // rendered and escaped by the server
    last = Date.now();
    setDown(!msg.running);
  });
  events.onerror = function () { setDown(true); }; // it reconnects by itself
  setInterval(function () {
    if (Date.now() - last > staleMs) { setDown(true); }
  }, 1000);
})();
