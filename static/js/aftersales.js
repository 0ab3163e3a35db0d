// After-sales countdowns: the server renders the text; this keeps it ticking.
(function () {
  if (window.omsAftersalesTicking) return;
  window.omsAftersalesTicking = true;
  const SOON = 6 * 3600 * 1000;
  function formats() {
    const el = document.getElementById("as-countdown-formats");
    try { return el ? JSON.parse(el.dataset.formats) : null; } catch (e) { return null; }
  }
  function fill(template, values) {
    return template.replace(/\{(\w)\}/g, (_, key) => String(values[key]));
  }
  function tick() {
    const f = formats();
    if (!f) return;
    const now = Date.now();
    document.querySelectorAll(".as-due[data-due]").forEach((el) => {
      const left = new Date(el.dataset.due).getTime() - now;
      const ms = Math.abs(left);
      const d = Math.floor(ms / 86400000), h = Math.floor(ms / 3600000) % 24, m = Math.floor(ms / 60000) % 60;
      const span = d ? fill(f.dh, { d, h }) : h ? fill(f.hm, { h, m }) : fill(f.m, { m });
      el.textContent = fill(left <= 0 ? f.overdue : f.left, { t: span });
      el.classList.toggle("overdue", left <= 0);
      el.classList.toggle("soon", left > 0 && left < SOON);
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  setInterval(tick, 30000);
})();
