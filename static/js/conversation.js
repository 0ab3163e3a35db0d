// The message form's live counter and English-only hint (templates/aftersales/_conversation.html).
// The server (aftersales/messaging.py check_message) decides; this only warns early, and
// counts as it does: code points, line breaks as one, surrounding whitespace ignored.
(function () {
  if (window.omsConversation) return;
  window.omsConversation = true;
  // Printable ASCII, line break, tab, and ‘ ’ “ ” – — … (messaging.ENGLISH_EXTRAS).
  const EXTRAS = new Set(["\n", "\t", "\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014", "\u2026"]);
  const english = (ch) => (ch >= " " && ch <= "~") || EXTRAS.has(ch);
  function describe(ch) {
    const code = "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    return /\s/.test(ch) ? code : `"${ch}" (${code})`;
  }
  function check(form) {
    const area = form.querySelector("textarea[name=body]");
    const counter = form.querySelector(".counter");
    const problem = form.querySelector(".problem");
    const max = parseInt(form.dataset.maxLength, 10);
    const chars = [...area.value.replace(/\r\n?/g, "\n").trim()];
    counter.textContent = `${chars.length.toLocaleString()} / ${max.toLocaleString()}`;
    const over = chars.length - max;
    counter.classList.toggle("over", over > 0);
    let text = over > 0 ? form.dataset.msgOver.replace("{over}", over.toLocaleString()) : "";
    if (!text && form.dataset.englishOnly === "1") {
      const index = chars.findIndex((ch) => !english(ch));
      if (index >= 0) {
        text = form.dataset.msgChar.replace("{position}", index + 1).replace("{character}", describe(chars[index]));
      }
    }
    problem.textContent = text;
  }
  function init(root) {
    root.querySelectorAll("form.send-message").forEach((form) => {
      if (form.dataset.ready) return;
      form.dataset.ready = "1";
      form.querySelector("textarea[name=body]").addEventListener("input", () => check(form));
      form.addEventListener("submit", () => { form.querySelector("button").disabled = true; });
      check(form);
    });
  }
  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:afterSwap", (e) => init(e.target));
  if (document.readyState !== "loading") init(document);
})();
