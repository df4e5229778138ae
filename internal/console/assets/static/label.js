// The image view's script. The page works without it (every change is a
// form); with it:
//
// Keyboard shortcuts: a key named by an element's data-shortcut clicks it
// (links: previous/next image; buttons: toggle a label, mark
// normal/anomalous) or, for a field, focuses it. Keys typed into a field
// are left alone.
//
// Boxes with the mouse (or a pen or a finger): drag on the image to draw a
// box with the label of #box-label; drag a box to move it, one of its
// corners to resize it; click (or Tab to) a box and press Delete to remove
// it. Every change posts all the boxes through #boxes-form, the same
// labeling action the forms use, and the page comes back with them saved.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var selected = -1; // index of the selected box, -1 for none

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (selected >= 0 && (e.key === "Delete" || e.key === "Backspace")) {
      e.preventDefault();
      boxes.splice(selected, 1);
      selected = -1;
      save();
      return;
    }
    if (selected >= 0 && e.key === "Escape") {
      selected = -1;
      draw();
      return;
    }
    var els = document.querySelectorAll("[data-shortcut]");
    for (var i = 0; i < els.length; i++) {
      if (els[i].getAttribute("data-shortcut") === e.key) {
        e.preventDefault();
        if (els[i].tagName === "INPUT") focusOnKeyUp = els[i];
        else els[i].click();
        return;
      }
    }
  });
  // A field's shortcut focuses it when the key comes up, so that the key
  // itself is not typed into it.
  var focusOnKeyUp = null;
  document.addEventListener("keyup", function () {
    if (focusOnKeyUp) { focusOnKeyUp.focus(); focusOnKeyUp = null; }
  });

  var stage = document.getElementById("stage");
  var svg = document.getElementById("overlay");
  var form = document.getElementById("boxes-form");
  var field = document.getElementById("boxes-json");
  if (!stage || !svg || !form || !field) return;
  var W = +stage.getAttribute("data-width"), H = +stage.getAttribute("data-height");
  var boxes = JSON.parse(field.value || "null") || [];
  var NS = "http://www.w3.org/2000/svg";
  var status = document.getElementById("draw-status");

  function say(text) {
    if (status) status.textContent = text;
  }

  // point is the pointer's position in pixels of the image.
  function point(e) {
    var r = svg.getBoundingClientRect();
    return {
      x: Math.max(0, Math.min(W, (e.clientX - r.left) * W / r.width)),
      y: Math.max(0, Math.min(H, (e.clientY - r.top) * H / r.height))
    };
  }

  function el(name, attrs, parent) {
    var n = document.createElementNS(NS, name);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    parent.appendChild(n);
    return n;
  }

  // draw replaces the server's boxes with editable ones.
  function draw() {
    var old = svg.querySelectorAll("g.box");
    for (var i = 0; i < old.length; i++) old[i].remove();
    var r = svg.getBoundingClientRect();
    var hs = r.width > 0 ? 9 * W / r.width : 9; // handle size: 9 screen pixels
    boxes.forEach(function (b, i) {
      var g = el("g", {"class": "box" + (i === selected ? " selected" : ""), "data-index": i, "data-label": b.Label,
        tabindex: "0", role: "button", "aria-label": "Box " + i + " " + b.Label + ", press Delete to remove it"}, svg);
      el("rect", {"class": "frame", x: b.Left, y: b.Top, width: b.Width, height: b.Height}, g);
      el("text", {x: b.Left, y: b.Top, dy: "-4"}, g).textContent = b.Label;
      [["nw", b.Left, b.Top], ["ne", b.Left + b.Width, b.Top], ["sw", b.Left, b.Top + b.Height], ["se", b.Left + b.Width, b.Top + b.Height]].forEach(function (c) {
        el("rect", {"class": "handle " + c[0], "data-corner": c[0], x: c[1] - hs / 2, y: c[2] - hs / 2, width: hs, height: hs}, g);
      });
      g.addEventListener("focus", function () {
        if (selected !== i) { selected = i; draw(); svg.querySelector('g.box[data-index="' + i + '"]').focus(); }
      });
    });
  }

  // save posts the boxes, rounded to whole pixels inside the image.
  function save() {
    var out = boxes.map(function (b) {
      var l = Math.max(0, Math.round(b.Left)), t = Math.max(0, Math.round(b.Top));
      return {Label: b.Label, Left: l, Top: t,
        Width: Math.max(1, Math.min(W - l, Math.round(b.Width))), Height: Math.max(1, Math.min(H - t, Math.round(b.Height)))};
    });
    field.value = JSON.stringify(out);
    say("Saving the boxes…");
    form.submit();
  }

  var drag = null; // {mode: "draw"|"move"|"resize", index, corner, start, orig, moved}

  svg.addEventListener("pointerdown", function (e) {
    if (e.button !== 0) return;
    var p = point(e);
    var g = e.target.closest ? e.target.closest("g.box") : null;
    if (g) {
      var i = +g.getAttribute("data-index");
      var b = boxes[i];
      var corner = e.target.getAttribute("data-corner");
      drag = {mode: corner ? "resize" : "move", index: i, corner: corner, start: p, moved: false,
        orig: {Left: b.Left, Top: b.Top, Width: b.Width, Height: b.Height}};
    } else {
      var label = document.getElementById("box-label");
      var name = label ? label.value.trim() : "";
      if (!name) {
        say("Type the label of the new box first.");
        if (label) label.focus();
        return;
      }
      boxes.push({Label: name, Left: p.x, Top: p.y, Width: 0, Height: 0});
      drag = {mode: "draw", index: boxes.length - 1, start: p, moved: false};
    }
    selected = drag.index;
    svg.setPointerCapture(e.pointerId);
    e.preventDefault();
    draw();
  });

  svg.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var p = point(e), b = boxes[drag.index], o = drag.orig;
    var dx = p.x - drag.start.x, dy = p.y - drag.start.y;
    if (Math.abs(dx) + Math.abs(dy) > 1) drag.moved = true;
    if (drag.mode === "draw") {
      b.Left = Math.min(p.x, drag.start.x); b.Top = Math.min(p.y, drag.start.y);
      b.Width = Math.abs(dx); b.Height = Math.abs(dy);
    } else if (drag.mode === "move") {
      b.Left = Math.max(0, Math.min(W - o.Width, o.Left + dx));
      b.Top = Math.max(0, Math.min(H - o.Height, o.Top + dy));
    } else {
      // The dragged corner follows the pointer; the opposite one stays.
      var x0 = o.Left, y0 = o.Top, x1 = o.Left + o.Width, y1 = o.Top + o.Height;
      if (drag.corner.indexOf("w") >= 0) x0 = p.x; else x1 = p.x;
      if (drag.corner.indexOf("n") >= 0) y0 = p.y; else y1 = p.y;
      b.Left = Math.min(x0, x1); b.Top = Math.min(y0, y1);
      b.Width = Math.abs(x1 - x0); b.Height = Math.abs(y1 - y0);
    }
    draw();
  });

  function end(e) {
    if (!drag) return;
    var d = drag, b = boxes[d.index];
    drag = null;
    if (svg.hasPointerCapture(e.pointerId)) svg.releasePointerCapture(e.pointerId);
    if (d.mode === "draw" && (b.Width < 2 || b.Height < 2)) {
      boxes.splice(d.index, 1); // a click on the image: no box
      selected = -1;
      draw();
      return;
    }
    if (!d.moved) { // a click on a box selects it
      draw();
      say("Box " + d.index + " (" + b.Label + ") selected: press Delete to remove it.");
      return;
    }
    save();
  }
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", function (e) {
    if (!drag) return;
    if (drag.mode === "draw") boxes.splice(drag.index, 1);
    else if (drag.orig) { var b = boxes[drag.index]; b.Left = drag.orig.Left; b.Top = drag.orig.Top; b.Width = drag.orig.Width; b.Height = drag.orig.Height; }
    drag = null;
    selected = -1;
    draw();
  });
  window.addEventListener("resize", draw);
  draw();
})();
