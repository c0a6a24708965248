(function () {
  var box = document.getElementById("live-counts");
  if (!box) return;
  setInterval(function () {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (!data) return;
        box.querySelectorAll("[data-k]").forEach(function (el) { el.textContent = data[el.dataset.k]; }); })
      .catch(function () {});
  }, 5000);
})();
