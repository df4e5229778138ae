// Keyboard shortcuts of the image view: a key named by an element's
// data-shortcut clicks it (links: previous/next image; buttons: toggle a
// label, mark normal/anomaly). Keys typed into a field are left alone.
document.addEventListener("keydown", function (e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  var t = e.target;
  if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
  var els = document.querySelectorAll("[data-shortcut]");
  for (var i = 0; i < els.length; i++) {
    if (els[i].getAttribute("data-shortcut") === e.key) {
      e.preventDefault();
      els[i].click();
      return;
    }
  }
});
