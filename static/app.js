// Forms marked data-busy show a progress note and cannot be sent twice while the server works.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var note = form.getAttribute && form.getAttribute("data-busy");
  if (!note) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  var p = document.createElement("p");
  p.className = "busy";
  p.setAttribute("role", "status");
  p.textContent = note;
  form.appendChild(p);
});

// Forms marked data-confirm ask before they are sent (used for destructive actions).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
