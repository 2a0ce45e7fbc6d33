/* A signature pad drawn with a finger (or a mouse or pen): hand-written, no third-party code.
 *
 * Markup (see templates/review/_pad.html):
 *   <div class="sig-pad" data-signature-pad data-empty-message="Please sign.">
 *     <canvas></canvas>
 *     <button type="button" data-signature-clear>Clear</button>
 *     <input type="hidden" name="strokes">
 *     <p class="field-error" data-signature-error hidden></p>
 *   </div>
 * The strokes go into the hidden input as JSON: [[[x, y], ...], ...] with whole numbers in a
 * 1000 x 400 box, whatever the canvas's size on the screen, which is what the server reads
 * (app.domain.signatures). The form refuses to send an empty pad; the server checks anyway.
 */
(function () {
  "use strict";

  var BOX_W = 1000, BOX_H = 400;
  // A signature needs some ink: the server refuses less than 150 units (a dot, a tick). The
  // client asks for the same, so the signer is told before the page is sent.
  var MIN_INK = 150;

  function ink(strokes) {
    var total = 0;
    strokes.forEach(function (s) {
      for (var i = 1; i < s.length; i++) {
        total += Math.hypot(s[i][0] - s[i - 1][0], s[i][1] - s[i - 1][1]);
      }
    });
    return total;
  }

  function setUp(pad) {
    var canvas = pad.querySelector("canvas");
    var input = pad.querySelector("input[type=hidden]");
    var clear = pad.querySelector("[data-signature-clear]");
    var error = pad.querySelector("[data-signature-error]");
    var form = pad.closest("form");
    var ctx = canvas.getContext("2d");
    var strokes = [];
    var current = null;  // the stroke being drawn, or null
    var pointerId = null;

    // The canvas's CSS size comes from the pad's width, never from the canvas itself: a canvas
    // with no CSS width is as wide as its bitmap, so measuring it and multiplying by the pixel
    // ratio grew it threefold on every resize at a ratio of 3. The bitmap is then the CSS size
    // times the pixel ratio, so strokes are sharp; strokes are kept in box units and redrawn.
    var MIN_HEIGHT = 110;
    function resize() {
      var width = pad.clientWidth;
      if (!width) return;  // hidden (another step of the form): measured when it is shown
      var height = Math.max(MIN_HEIGHT, Math.round(width * BOX_H / BOX_W));
      canvas.style.width = width + "px";
      canvas.style.height = height + "px";
      var ratio = window.devicePixelRatio || 1;
      var w = Math.round(width * ratio), h = Math.round(height * ratio);
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      redraw();
    }

    function redraw() {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.setTransform(canvas.width / BOX_W, 0, 0, canvas.height / BOX_H, 0, 0);
      ctx.lineWidth = 6;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#000";
      strokes.forEach(drawStroke);
    }

    function drawStroke(s) {
      ctx.beginPath();
      ctx.moveTo(s[0][0], s[0][1]);
      if (s.length === 1) ctx.lineTo(s[0][0] + 0.1, s[0][1]);  // a dot still shows
      for (var i = 1; i < s.length; i++) ctx.lineTo(s[i][0], s[i][1]);
      ctx.stroke();
    }

    function point(e) {
      var rect = canvas.getBoundingClientRect();
      var x = Math.round((e.clientX - rect.left) * BOX_W / rect.width);
      var y = Math.round((e.clientY - rect.top) * BOX_H / rect.height);
      return [Math.min(Math.max(x, 0), BOX_W), Math.min(Math.max(y, 0), BOX_H)];
    }

    function store() {
      input.value = strokes.length ? JSON.stringify(strokes) : "";
      pad.classList.toggle("signed", strokes.length > 0);
      if (strokes.length && error) error.hidden = true;
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (pointerId !== null) return;  // a second finger does not start a second line
      e.preventDefault();
      pointerId = e.pointerId;
      canvas.setPointerCapture(e.pointerId);
      current = [point(e)];
      strokes.push(current);
      redraw();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (current === null || e.pointerId !== pointerId) return;
      e.preventDefault();
      // Coalesced events: the points a fast finger made between two frames.
      var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      (events.length ? events : [e]).forEach(function (ev) {
        var p = point(ev), last = current[current.length - 1];
        if (p[0] !== last[0] || p[1] !== last[1]) current.push(p);
      });
      redraw();
    });
    function end(e) {
      if (current === null || e.pointerId !== pointerId) return;
      current = null;
      pointerId = null;
      store();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);

    clear.addEventListener("click", function () {
      strokes = [];
      current = null;
      store();
      redraw();
    });

    if (form) {
      form.addEventListener("submit", function (e) {
        if (form.dataset.skipSignature !== undefined) return;
        if (ink(strokes) < MIN_INK) {
          e.preventDefault();
          if (error) {
            error.textContent = pad.dataset.emptyMessage || "Please sign.";
            error.hidden = false;
          }
          canvas.focus();
          pad.scrollIntoView({block: "center"});
        }
      });
    }

    // A finger on the pad draws: no scrolling, no zoom, no swipe back (touch-action: none in
    // app.css does this too; these listeners hold where the stylesheet did not load).
    ["touchstart", "touchmove"].forEach(function (type) {
      canvas.addEventListener(type, function (e) { if (e.cancelable) e.preventDefault(); }, {passive: false});
    });

    // The pad's width changes with rotation, with the window, and when a hidden step is shown.
    if (window.ResizeObserver) new ResizeObserver(resize).observe(pad);
    window.addEventListener("resize", resize);
    window.addEventListener("orientationchange", resize);
    resize();
    store();
  }

  function init() {
    document.querySelectorAll("[data-signature-pad]").forEach(setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
