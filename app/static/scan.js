/* The card scanner (app/templates/cards/scan.html).
 *
 * Where the browser reads QR codes itself (BarcodeDetector, e.g. Chrome on Android) and
 * has a camera, the back camera is shown and every few frames are searched for a QR code.
 * A code holding this site's card URL (BASE_URL/c/<village>-<card>.<tag>, or the same
 * path under the page's own address) opens that card here; other codes are ignored. Elsewhere
 * the page keeps the hint to use the phone's camera app, and the card-number form below
 * always works. Plain ES2017, no build step, no third-party code.
 */
(function () {
  "use strict";

  // The format of app.domain.cards: <12-digit village>-<4-digit card>.<key id><11-char mac>.
  var CODE = /^[0-9]{12}-[0-9]{4}\.[a-z0-9]{1,4}[A-Za-z0-9_-]{11}$/;
  var INTERVAL_MS = 250;

  var root = document.getElementById("scanner");
  if (!root) return;
  var texts = JSON.parse(document.getElementById("scan-i18n").textContent);
  var prefixes = JSON.parse(root.getAttribute("data-prefixes"));
  var localPrefix = root.getAttribute("data-local-prefix");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var startButton = document.getElementById("scan-start");
  var stream = null;
  var timer = null;

  /** The local path to open for a scanned text, or null when it is not one of our cards. */
  function cardPath(text) {
    for (var i = 0; i < prefixes.length; i++) {
      if (text.indexOf(prefixes[i]) === 0) {
        var code = text.slice(prefixes[i].length);
        if (CODE.test(code)) return localPrefix + code;
      }
    }
    return null;
  }

  function say(text) { status.textContent = text; }

  function stop() {
    clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
  }

  function look(detector) {
    if (!stream) return;
    // Before the first frame there is nothing to search.
    var ready = video.readyState >= 2 ? detector.detect(video) : Promise.resolve([]);
    ready.then(function (codes) {
      if (!stream) return;
      for (var i = 0; i < codes.length; i++) {
        var path = cardPath(codes[i].rawValue || "");
        if (path) {
          say(texts.opening);
          stop();
          window.location.assign(path);
          return;
        }
      }
      if (codes.length) say(texts.not_card);
      timer = setTimeout(function () { look(detector); }, INTERVAL_MS);
    }, function () {
      timer = setTimeout(function () { look(detector); }, INTERVAL_MS * 2);
    });
  }

  function start(detector) {
    startButton.hidden = true;
    say(texts.starting);
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        return video.play();
      })
      .then(function () {
        say(texts.aim);
        look(detector);
      })
      .catch(function () {
        stop();
        say(texts.no_camera);
        startButton.textContent = texts.start;
        startButton.hidden = false;
      });
  }

  // Feature detection: without the API (or without a camera API, e.g. on plain http away
  // from localhost) the page stays as it is without the script.
  var mediaDevices = navigator.mediaDevices;
  if (!("BarcodeDetector" in window) || !mediaDevices || !mediaDevices.getUserMedia) return;
  window.BarcodeDetector.getSupportedFormats().then(function (formats) {
    if (formats.indexOf("qr_code") < 0) return;
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    root.hidden = false;
    document.getElementById("scan-unsupported").hidden = true;
    startButton.addEventListener("click", function () { start(detector); });
    // The page was opened to scan: start at once (the browser asks for the camera first).
    start(detector);
  }, function () { /* no detector after all: the card-number form remains */ });

  // Leaving the page (or putting it in the back-forward cache) releases the camera; back
  // on the page, the button starts it again.
  window.addEventListener("pagehide", function () {
    if (!stream) return;
    stop();
    say("");
    startButton.textContent = texts.start;
    startButton.hidden = false;
  });
})();
