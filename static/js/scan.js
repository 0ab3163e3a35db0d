// The hand-over scan page: a short tone for the last scan's outcome (Web Audio API),
// and the input kept focused so the next scan goes in (scanners type, then Enter).
(function () {
  const TONES = { ok: [880, 0.12], already_scanned: [520, 0.25], unknown: [220, 0.4], wrong_batch: [220, 0.4] };
  function beep(outcome) {
    const tone = TONES[outcome];
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!tone || !Context) return;
    try {
      const ctx = new Context();
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = tone[0];
      gain.gain.value = 0.2;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + tone[1]);
      osc.onended = () => ctx.close();
    } catch (e) { /* no audio: the colour still shows the outcome */ }
  }
  document.addEventListener("DOMContentLoaded", () => {
    const result = document.getElementById("scan-result");
    if (result) beep(result.dataset.outcome);
    const input = document.getElementById("scan-input");
    if (input) input.focus();
  });
})();
