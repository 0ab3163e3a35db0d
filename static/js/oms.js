// Live countdowns (red under 6 h), "select all", selects that submit or sort, and
// re-running them after htmx swaps.
(function () {
  const SIX_HOURS = 6 * 3600 * 1000;
  function fmt(ms) {
    const past = ms < 0; ms = Math.abs(ms);
    const d = Math.floor(ms / 86400000), h = Math.floor(ms / 3600000) % 24, m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
    const text = d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${s}s`;
    return past ? `-${text}` : text;
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach((el) => {
      const left = new Date(el.dataset.due).getTime() - now;
      el.textContent = fmt(left);
      el.classList.toggle("urgent", left >= 0 && left < SIX_HOURS);
      el.classList.toggle("past", left < 0);
    });
  }
  document.addEventListener("change", (e) => {
    // Behaviour lives here, not in on* attributes: the Content-Security-Policy forbids them.
    if (e.target.matches("select[data-autosubmit]")) {
      e.target.form.submit();
      return;
    }
    if (e.target.matches("select[data-sort-param]")) {
      const params = new URLSearchParams(location.search);
      params.set(e.target.dataset.sortParam, e.target.value);
      location.search = params.toString();
      return;
    }
    if (e.target.matches(".select-all")) {
      e.target.closest("table").querySelectorAll("tbody input[name=ids]").forEach((box) => { box.checked = e.target.checked; });
    }
  });
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 1000);
})();
